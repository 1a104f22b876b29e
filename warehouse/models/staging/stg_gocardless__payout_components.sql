-- What each GoCardless payout nets. Payout items are the authority, but the API answers
-- 410 Gone for payouts older than six months, so a first sync of a long history has none
-- for them: those payouts are composed from the payments that link to them plus one fee
-- line of the payout's deducted_fees (flagged kind 'reconstructed_*' so nobody mistakes
-- them for provider data). Item amounts are signed; fees are items of their own (fee 0).
-- Items carry no currency: it is their payout's.
-- shape: payout_components
-- requires: raw_gocardless_payouts, raw_gocardless_payments
WITH items AS (
    {% if has('raw_gocardless_payout_items') %}
    SELECT i.entity, i.payout_id, i.item_index, i.type, i.links__payment, i.amount
    FROM raw_gocardless_payout_items AS i
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS payout_id, CAST(NULL AS BIGINT) AS item_index,
           CAST(NULL AS TEXT) AS type, CAST(NULL AS TEXT) AS links__payment, CAST(NULL AS DECIMAL(18,2)) AS amount
    WHERE 1 = 0
    {% endif %}
),
itemised AS (
    SELECT DISTINCT payout_id FROM items
),
reconstructed AS (
    SELECT
        pm.entity, pm.links__payout AS payout_id, 'reconstructed_payment' AS kind, pm.id AS payment_id,
        pm.links__payout || '/' || pm.id AS component_id,
        {{ minor_to_decimal('pm.amount', 'pm.currency') }} AS amount
    FROM raw_gocardless_payments AS pm
    WHERE pm.links__payout IS NOT NULL
      AND pm.links__payout NOT IN (SELECT payout_id FROM itemised)
    UNION ALL
    SELECT
        p.entity, p.id AS payout_id, 'reconstructed_fees' AS kind, CAST(NULL AS TEXT) AS payment_id,
        p.id || '/fees' AS component_id,
        -{{ minor_to_decimal('coalesce(p.deducted_fees, 0)', 'p.currency') }} AS amount
    FROM raw_gocardless_payouts AS p
    WHERE p.id NOT IN (SELECT payout_id FROM itemised)
      AND coalesce(p.deducted_fees, 0) <> 0
)
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
FROM items AS i
JOIN raw_gocardless_payouts AS p ON p.id = i.payout_id
UNION ALL
SELECT
    r.entity, r.payout_id, r.component_id, r.kind, r.payment_id, r.amount, 0 AS fee,
    upper(p.currency) AS currency, 'gocardless' AS source_system, r.component_id AS source_id
FROM reconstructed AS r
JOIN raw_gocardless_payouts AS p ON p.id = r.payout_id
