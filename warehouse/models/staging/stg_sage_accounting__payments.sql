-- Customer receipts booked in Sage Accounting: the ERP's view of payments, evidence for
-- reconciliation (the same money is a bank line). erp_lettrage lists the invoice ids the
-- receipt is allocated to (a payment on account allocated later through /contact_allocations included);
-- a receipt left on account has none. A customer refund (CUSTOMER_REFUND) is money paid back, a negative receipt
-- allocated to the credit note (or payment on account) it refunds: int_credit_note_refunds closes the credit note.
-- shape: payments
-- requires: raw_sage_accounting_contact_payments
{% set on_account = (has('raw_sage_accounting_contact_allocation_lines') and has('raw_sage_accounting_contact_allocations')) and has_column('raw_sage_accounting_contact_payments', 'payment_on_account__id') %}
WITH allocations AS (
    {% if has('raw_sage_accounting_payment_allocations') %}
    SELECT entity, payment_id, string_agg(artefact_id, ',' ORDER BY artefact_id) AS invoice_ids
    FROM (
        SELECT entity, payment_id, artefact_id FROM raw_sage_accounting_payment_allocations
        {% if on_account %}
        UNION
        SELECT entity, payment_id, invoice_id FROM ({{ sa_account_allocations() }}) AS poa
        {% endif %}
    ) AS a
    GROUP BY entity, payment_id
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS payment_id, CAST(NULL AS TEXT) AS invoice_ids WHERE 1 = 0
    {% endif %}
)
SELECT
    p.entity,
    'SAGEACC-' || p.id AS payment_id,
    'erp' AS channel,
    p.contact__id AS customer_id,
    CASE WHEN p.transaction_type__id = 'CUSTOMER_REFUND' THEN -abs(p.total_amount) ELSE p.total_amount END AS amount,
    0 AS fee,
    upper(p.currency__id) AS currency,
    p.date AS paid_on,
    'succeeded' AS status,
    p.reference AS reference,
    CAST(NULL AS TEXT) AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    a.invoice_ids AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    CAST(NULL AS TEXT) AS payer_email,
    CAST(NULL AS TEXT) AS mandate_id,
    'sage_accounting' AS source_system,
    p.id AS source_id
FROM raw_sage_accounting_contact_payments AS p
LEFT JOIN allocations AS a ON a.entity = p.entity AND a.payment_id = p.id
WHERE coalesce(p.transaction_type__id, 'CUSTOMER_RECEIPT') IN ('CUSTOMER_RECEIPT', 'CUSTOMER_REFUND')
