-- The balance âgée: open amounts per bucket of days past due as of a date.
-- Same population as mart_open_receivables, so its rows sum to the same total.
WITH open_items AS (
    SELECT
        i.entity, i.customer_id, i.currency, i.amount_open,
        {{ days_between("DATE '" ~ as_of ~ "'", 'i.due_date') }} AS days_past_due
    FROM fct_invoice AS i
    WHERE i.status NOT IN ('paid', 'credited', 'written_off')
      AND i.amount_open <> 0
)
SELECT
    DATE '{{ as_of }}' AS as_of,
    o.entity,
    o.customer_id,
    max(c.name) AS customer_name,
    CASE
        WHEN o.days_past_due <= 0 THEN 'not_due'
        WHEN o.days_past_due <= 30 THEN '1_30'
        WHEN o.days_past_due <= 60 THEN '31_60'
        WHEN o.days_past_due <= 90 THEN '61_90'
        ELSE 'over_90'
    END AS bucket,
    o.currency,
    sum(o.amount_open) AS amount_open,
    count(*) AS invoice_count,
    now() AS _loaded_at
FROM open_items AS o
LEFT JOIN dim_customer AS c ON c.entity = o.entity AND c.customer_id = o.customer_id
GROUP BY 2, 3, 5, 6
