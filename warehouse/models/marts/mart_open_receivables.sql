-- The encours: what customers still owe, by entity, customer and status, as of a date.
-- Status split: disputed first, then partially paid, then overdue / not due by due date.
-- Unapplied credit notes count (negative) because they reduce what is owed.
WITH open_items AS (
    SELECT
        i.entity, i.customer_id, i.currency, i.amount_open,
        CASE
            WHEN i.disputed OR i.status = 'disputed' THEN 'disputed'
            WHEN i.status = 'partially_paid' THEN 'partially_paid'
            WHEN i.due_date < DATE '{{ as_of }}' THEN 'overdue'
            ELSE 'not_due'
        END AS status
    FROM fct_invoice AS i
    WHERE i.status NOT IN ('paid', 'credited', 'written_off')
      AND i.amount_open <> 0
)
SELECT
    DATE '{{ as_of }}' AS as_of,
    o.entity,
    o.customer_id,
    max(c.name) AS customer_name,
    o.status,
    o.currency,
    sum(o.amount_open) AS amount_open,
    count(*) AS invoice_count,
    now() AS _loaded_at
FROM open_items AS o
LEFT JOIN dim_customer AS c ON c.entity = o.entity AND c.customer_id = o.customer_id
GROUP BY o.entity, o.customer_id, o.status, o.currency
