-- What each GoCardless payout nets, and where we learnt it (provenance).
-- Payout items are the authority ('payout_items'). The API answers 410 Gone for the
-- items of payouts older than six months, so a first sync of a long history has none
-- for them: such a payout is composed from the events GoCardless keeps for good
-- ('events'): a payment's paid_out event names the payout it was paid into, and
-- chargeback_settled / late_failure_settled name the later payout the money was
-- clawed back from (links.payout) -- which the payment's own links.payout, pointing at
-- the payout it was first paid into, cannot say. Events carry no amount: a settled
-- line is the payment's amount, signed. The payout's deducted_fees is one fee line.
-- Only when no event names the payout either (events never loaded) do the payments
-- that link to it stand in ('payments'); a chargeback is then missed and the payout
-- stays a payout_mismatch for a person, which is the truth about what we know.
-- Kinds are the payout-item types GoCardless uses, whatever the provenance, so
-- downstream SQL reads one vocabulary. Items carry no currency: it is their payout's.
-- Not reconstructed: refund_settled (the connector does not load refunds, so no amount).
-- shape: payout_components
-- requires: raw_gocardless_payouts, raw_gocardless_payments
WITH items AS (
    {% if has('raw_gocardless_payout_items') %}
    SELECT i.payout_id, i.item_index, i.type, i.links__payment, i.amount
    FROM raw_gocardless_payout_items AS i
    {% else %}
    SELECT CAST(NULL AS TEXT) AS payout_id, CAST(NULL AS BIGINT) AS item_index, CAST(NULL AS TEXT) AS type,
           CAST(NULL AS TEXT) AS links__payment, CAST(NULL AS DECIMAL(18,2)) AS amount
    WHERE 1 = 0
    {% endif %}
),
itemised AS (
    SELECT DISTINCT payout_id FROM items
),
settled AS (
    {% if has('raw_gocardless_events') %}
    SELECT
        e.id AS event_id, e.links__payout AS payout_id, e.links__payment AS payment_id,
        CASE e.action WHEN 'paid_out' THEN 'payment_paid_out'
                      WHEN 'chargeback_settled' THEN 'payment_charged_back'
                      ELSE 'payment_failed' END AS kind,
        CASE e.action WHEN 'paid_out' THEN 1 ELSE -1 END AS sign
    FROM raw_gocardless_events AS e
    WHERE e.resource_type = 'payments' AND e.links__payout IS NOT NULL AND e.links__payment IS NOT NULL
      AND e.action IN ('paid_out', 'chargeback_settled', 'late_failure_settled')
      AND e.links__payout NOT IN (SELECT payout_id FROM itemised)
    {% else %}
    SELECT CAST(NULL AS TEXT) AS event_id, CAST(NULL AS TEXT) AS payout_id, CAST(NULL AS TEXT) AS payment_id,
           CAST(NULL AS TEXT) AS kind, 1 AS sign
    WHERE 1 = 0
    {% endif %}
),
evented AS (
    SELECT DISTINCT payout_id FROM settled
),
reconstructed AS (
    SELECT
        s.payout_id, s.payout_id || '/' || s.event_id AS component_id, s.kind, s.payment_id,
        s.sign * {{ minor_to_decimal('pm.amount', 'pm.currency') }} AS amount,
        'events' AS provenance, s.event_id AS source_id
    FROM settled AS s
    JOIN raw_gocardless_payments AS pm ON pm.id = s.payment_id
    UNION ALL
    SELECT
        pm.links__payout AS payout_id, pm.links__payout || '/' || pm.id AS component_id,
        'payment_paid_out' AS kind, pm.id AS payment_id,
        {{ minor_to_decimal('pm.amount', 'pm.currency') }} AS amount,
        'payments' AS provenance, pm.id AS source_id
    FROM raw_gocardless_payments AS pm
    WHERE pm.links__payout IS NOT NULL
      AND pm.links__payout NOT IN (SELECT payout_id FROM itemised)
      AND pm.links__payout NOT IN (SELECT payout_id FROM evented)
    UNION ALL
    SELECT
        p.id AS payout_id, p.id || '/deducted_fees' AS component_id, 'gocardless_fee' AS kind,
        CAST(NULL AS TEXT) AS payment_id,
        -{{ minor_to_decimal('coalesce(p.deducted_fees, 0)', 'p.currency') }} AS amount,
        CASE WHEN p.id IN (SELECT payout_id FROM evented) THEN 'events' ELSE 'payments' END AS provenance,
        p.id AS source_id
    FROM raw_gocardless_payouts AS p
    WHERE p.id NOT IN (SELECT payout_id FROM itemised)
      AND coalesce(p.deducted_fees, 0) <> 0
)
SELECT
    p.entity,
    i.payout_id,
    i.payout_id || '/' || CAST(i.item_index AS TEXT) AS component_id,
    i.type AS kind,
    i.links__payment AS payment_id,
    i.amount,
    0 AS fee,
    upper(p.currency) AS currency,
    'payout_items' AS provenance,
    CAST(NULL AS TEXT) AS failed_payout_id,
    'gocardless' AS source_system,
    i.payout_id || '/' || CAST(i.item_index AS TEXT) AS source_id
FROM items AS i
JOIN raw_gocardless_payouts AS p ON p.id = i.payout_id
UNION ALL
SELECT
    p.entity, r.payout_id, r.component_id, r.kind, r.payment_id, r.amount, 0 AS fee,
    upper(p.currency) AS currency, r.provenance, CAST(NULL AS TEXT) AS failed_payout_id,
    'gocardless' AS source_system, r.source_id
FROM reconstructed AS r
JOIN raw_gocardless_payouts AS p ON p.id = r.payout_id
