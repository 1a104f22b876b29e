-- Provider payouts with the bank line that received them (null until found).
SELECT
    p.entity, p.payout_id, p.amount, p.fees, p.currency, p.arrival_date, p.status, p.reference,
    l.bank_line_id, p.source_system, p.source_id, now() AS _loaded_at
FROM ({{ union('payouts') }}) AS p
LEFT JOIN int_payout_bank_links AS l ON l.entity = p.entity AND l.payout_id = p.payout_id
