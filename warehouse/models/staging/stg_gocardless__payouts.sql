-- GoCardless payouts to the creditor's bank account.
-- shape: payouts
-- requires: raw_gocardless_payouts
SELECT
    entity,
    id AS payout_id,
    {{ minor_to_decimal('amount', 'currency') }} AS amount,
    {{ minor_to_decimal('coalesce(deducted_fees, 0)', 'currency') }} AS fees,
    upper(currency) AS currency,
    CAST(arrival_date AS DATE) AS arrival_date,
    status,
    reference,
    'gocardless' AS source_system,
    id AS source_id
FROM raw_gocardless_payouts
