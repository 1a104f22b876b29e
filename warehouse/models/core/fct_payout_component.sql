-- The composition of each payout (payments, refunds, fees, chargebacks).
SELECT c.*, now() AS _loaded_at
FROM ({{ union('payout_components') }}) AS c
