-- Payout items: payments paid out, fees, failures and chargebacks netted in the payout.
-- Item amounts are signed decimals; fees are items of their own, so fee stays 0 here.
-- Items carry no currency: it is their payout's.
-- shape: payout_components
-- requires: raw_gocardless_payout_items, raw_gocardless_payouts
SELECT
    i.entity,
    i.payout_id,
    i.payout_id || '/' || CAST(i.item_index AS TEXT) AS component_id,
    i.type AS kind,
    i.links__payment AS payment_id,
    i.amount,
    0 AS fee,
    upper(p.currency) AS currency,
    'gocardless' AS source_system,
    i.payout_id || '/' || CAST(i.item_index AS TEXT) AS source_id
FROM raw_gocardless_payout_items AS i
JOIN raw_gocardless_payouts AS p ON p.id = i.payout_id
