-- The encours: what customers still owe as of a date, by entity, customer and status.
-- Status at the date: disputed first, then partially paid (an invoice some money was applied to by
-- the date, not all: a credit note alone pays nothing), then overdue (due before the date) or not due
-- (due today or later).
-- Unapplied credit notes count, negatively, because they reduce what is owed.
-- amount_open_entity: in the entity's currency at the latest rate on or before the date
-- (NULL when no rate is known; never defaulted).
WITH {{ base_ctes() }},
asof_dates AS (SELECT {{ d(as_of) }} AS d),
{{ open_ctes('open_now', 'asof_dates') }},
classified AS (
    SELECT o.entity, o.customer_id, o.currency, o.amount_open,
           CASE WHEN o.disputed THEN 'disputed'
                WHEN o.doc_type = 'invoice' AND o.amount_open > 0 AND o.paid_by_date THEN 'partially_paid'
                WHEN o.days_past_due > 0 THEN 'overdue'
                ELSE 'not_due' END AS status
    FROM open_now AS o
),
grouped AS (
    SELECT entity, customer_id, status, currency, sum(amount_open) AS amount_open, count(*) AS invoice_count
    FROM classified GROUP BY entity, customer_id, status, currency
)
SELECT
    {{ d(as_of) }} AS as_of,
    g.entity, g.customer_id, c.name AS customer_name, g.status, g.currency, g.amount_open, g.invoice_count,
    {{ entity_currency('g.entity') }} AS entity_currency,
    round(g.amount_open * {{ fx_rate('g.entity', 'g.currency', d(as_of)) }}, 2) AS amount_open_entity,
    now() AS _loaded_at
FROM grouped AS g
LEFT JOIN dim_customer AS c ON c.entity = g.entity AND c.customer_id = g.customer_id
