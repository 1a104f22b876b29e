-- What each Sage Accounting receipt allocated to each invoice (allocated_artefacts' amount): two receipts
-- closing one invoice each settle their own part of it.
-- shape: erp_applications
-- requires: raw_sage_accounting_payment_allocations
SELECT
    a.entity,
    a.artefact_id AS invoice_id,
    'SAGEACC-' || a.payment_id AS payment_id,
    abs(a.amount) AS amount,
    'sage_accounting' AS source_system
FROM raw_sage_accounting_payment_allocations AS a
WHERE a.amount IS NOT NULL
