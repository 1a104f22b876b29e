-- Provider payouts with the bank line that received them (null until found; the first of them when the
-- bank split the deposit: int_payout_bank_links has every line).
SELECT
    p.entity, p.payout_id, p.amount, p.fees, p.currency, p.arrival_date, p.status, p.reference,
    l.bank_line_id, p.source_system, p.source_id, now() AS _loaded_at
FROM ({{ union('payouts') }}) AS p
LEFT JOIN (
    SELECT entity, payout_id, min(bank_line_id) AS bank_line_id FROM int_payout_bank_links GROUP BY entity, payout_id
) AS l ON l.entity = p.entity AND l.payout_id = p.payout_id
