-- What Sage Accounting set of each credit note against each invoice through a contact allocation
-- (/contact_allocations, transaction type CUSTOMER_ALLOCATION: an invoice's line positive, a credit note's negative).
-- With one credit note in the allocation each invoice's line is what it took of it; with one invoice, each credit
-- note's line is what it gave; several of both say no pair's amount, and the shared code lays them (15_credit_notes).
-- shape: erp_credit_applications
-- requires: raw_sage_accounting_contact_allocation_lines, raw_sage_accounting_contact_allocations
WITH lines AS (
    SELECT l.entity, l.allocation_id, l.artefact_id, l.artefact_kind, abs(l.amount) AS amount,
           sum(CASE WHEN l.artefact_kind = 'sales_credit_notes' THEN 1 ELSE 0 END)
               OVER (PARTITION BY l.entity, l.allocation_id) AS n_cn,
           sum(CASE WHEN l.artefact_kind = 'sales_invoices' THEN 1 ELSE 0 END)
               OVER (PARTITION BY l.entity, l.allocation_id) AS n_inv
    FROM raw_sage_accounting_contact_allocation_lines AS l
    JOIN raw_sage_accounting_contact_allocations AS a ON a.entity = l.entity AND a.id = l.allocation_id
    WHERE coalesce(a.transaction_type__id, 'CUSTOMER_ALLOCATION') = 'CUSTOMER_ALLOCATION' AND l.amount IS NOT NULL
)
SELECT c.entity, c.artefact_id AS cn_id, i.artefact_id AS invoice_id,
       CASE WHEN c.n_cn = 1 THEN i.amount ELSE c.amount END AS amount, 'sage_accounting' AS source_system
FROM lines AS c
JOIN lines AS i ON i.entity = c.entity AND i.allocation_id = c.allocation_id AND i.artefact_kind = 'sales_invoices'
WHERE c.artefact_kind = 'sales_credit_notes' AND (c.n_cn = 1 OR c.n_inv = 1)
