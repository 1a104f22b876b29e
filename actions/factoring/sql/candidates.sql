-- The facts of every open invoice of one entity that a factoring contract may look at.
-- One set-based pass; the contract's rules are applied in actions/factoring/eligibility.py.
WITH cm AS (
    SELECT entity, invoice_id,
           max(CASE WHEN rule = 'credit_note' THEN 1 ELSE 0 END) AS has_credit_note,
           max(CASE WHEN rule <> 'credit_note' AND amount_applied <> 0 THEN 1 ELSE 0 END) AS has_payment
    FROM fct_match
    WHERE state IN ('auto', 'confirmed') AND entity = :entity
    GROUP BY entity, invoice_id
), beh AS (
    SELECT entity, customer_id, segment, score FROM mart_customer_payment_behaviour WHERE entity = :entity
), assigned AS (
    SELECT entity, invoice_id FROM factoring_batch_item WHERE entity = :entity
    UNION
    SELECT entity, invoice_id FROM fct_factoring_assignment
    WHERE entity = :entity AND coalesce(status, '') NOT IN ('repurchased', 'cancelled', 'rejected')
)
SELECT i.entity, i.invoice_id, coalesce(i.invoice_number, i.invoice_id) AS invoice_number, i.customer_id,
       c.name AS customer_name, c.vat_id, c.siren, upper(c.country) AS country, c.payment_terms_days,
       coalesce(c.segment, b.segment) AS segment, coalesce(c.score, b.score) AS score,
       i.issue_date, i.due_date, upper(i.currency) AS currency, i.amount_total, i.amount_open,
       (coalesce(i.disputed, false) OR i.status = 'disputed') AS disputed,
       (coalesce(cm.has_credit_note, 0) = 1 OR i.status = 'credited') AS credit_noted,
       (coalesce(cm.has_payment, 0) = 1 OR i.status = 'partially_paid') AS partially_paid,
       (a.invoice_id IS NOT NULL OR coalesce(i.factored, false)) AS already_assigned
FROM fct_invoice AS i
LEFT JOIN dim_customer AS c ON c.entity = i.entity AND c.customer_id = i.customer_id
LEFT JOIN beh AS b ON b.entity = i.entity AND b.customer_id = i.customer_id
LEFT JOIN cm ON cm.entity = i.entity AND cm.invoice_id = i.invoice_id
LEFT JOIN assigned AS a ON a.entity = i.entity AND a.invoice_id = i.invoice_id
WHERE i.entity = :entity
  AND i.doc_type = 'invoice'
  AND i.amount_open > 0
  AND coalesce(i.status, '') NOT IN ('paid', 'credited', 'written_off')
  AND i.issue_date <= CAST(:as_of AS DATE)
ORDER BY i.due_date, i.invoice_id
