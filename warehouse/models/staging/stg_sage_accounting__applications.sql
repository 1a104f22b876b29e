-- What each Sage Accounting receipt allocated to each invoice (allocated_artefacts' amount): two receipts
-- closing one invoice each settle their own part of it; a payment on account allocated later
-- (/contact_allocations) settles its part too.
-- shape: erp_applications
-- requires: raw_sage_accounting_payment_allocations
{% set on_account = (has('raw_sage_accounting_contact_allocation_lines') and has('raw_sage_accounting_contact_allocations')) and has_column('raw_sage_accounting_contact_payments', 'payment_on_account__id') %}
SELECT
    a.entity,
    a.artefact_id AS invoice_id,
    'SAGEACC-' || a.payment_id AS payment_id,
    abs(a.amount) AS amount,
    'sage_accounting' AS source_system
FROM raw_sage_accounting_payment_allocations AS a
WHERE a.amount IS NOT NULL
{% if on_account %}
UNION ALL
-- a payment on account allocated to an invoice later (/contact_allocations)
SELECT entity, invoice_id, 'SAGEACC-' || payment_id, abs(amount), 'sage_accounting'
FROM ({{ sa_account_allocations() }}) AS poa
WHERE amount IS NOT NULL
{% endif %}
