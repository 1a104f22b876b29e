-- Payment behaviour per customer as of a date (definitions in the README):
-- avg_days_to_pay / avg_days_late: amount-weighted (by amount_total) over invoices paid by
-- the date, paid date = paid_on of the last payment applied to the invoice; days late are
-- signed (negative = paid early). on_time_rate: share of those invoices paid by due date.
-- segment and score: rules and weights in mappings/credit_policy.yaml.
WITH {{ base_ctes() }},
asof_dates AS (SELECT {{ d(as_of) }} AS d),
{{ open_ctes('open_now', 'asof_dates') }},
{{ behaviour_ctes(as_of, 'open_now') }}
SELECT
    b.entity, b.customer_id, c.name AS customer_name, b.paid_invoices, b.avg_days_to_pay, b.avg_days_late,
    b.on_time_rate, b.segment, b.score,
    {{ d(as_of) }} AS as_of,
    now() AS _loaded_at
FROM behaviour AS b
LEFT JOIN dim_customer AS c ON c.entity = b.entity AND c.customer_id = b.customer_id
