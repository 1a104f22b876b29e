-- The balance âgée: open amounts as of a date per bucket of days past due
-- (not_due: due today or later; then 1_30, 31_60, 61_90, over_90).
-- Same population as mart_open_receivables, so its rows sum to the same total.
WITH {{ base_ctes() }},
asof_dates AS (SELECT {{ d(as_of) }} AS d),
{{ open_ctes('open_now', 'asof_dates') }},
grouped AS (
    SELECT entity, customer_id, {{ bucket('days_past_due') }} AS bucket, currency,
           sum(amount_open) AS amount_open, count(*) AS invoice_count
    FROM open_now GROUP BY 1, 2, 3, 4
)
SELECT
    {{ d(as_of) }} AS as_of,
    g.entity, g.customer_id, c.name AS customer_name, g.bucket, g.currency, g.amount_open, g.invoice_count,
    {{ entity_currency('g.entity') }} AS entity_currency,
    round(g.amount_open * {{ fx_rate('g.entity', 'g.currency', d(as_of)) }}, 2) AS amount_open_entity,
    now() AS _loaded_at
FROM grouped AS g
LEFT JOIN dim_customer AS c ON c.entity = g.entity AND c.customer_id = g.customer_id
