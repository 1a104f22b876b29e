-- What each SAP Business One incoming payment applied to each invoice (PaymentInvoices): two payments closing
-- one invoice each settle their own part of it. In the invoice's currency: AppliedFC for a foreign-currency
-- document (SumApplied is in the company's currency), SumApplied otherwise (AppliedFC 0). An outgoing payment to a
-- customer's line on a credit memo is what it paid back of it (int_credit_note_refunds).
-- shape: erp_applications
-- requires: raw_sap_b1_payment_invoices
SELECT
    l.entity,
    {{ b1_document_id('l') }} AS invoice_id,
    'B1-PAY-' || CAST(l.payment_doc_entry AS TEXT) AS payment_id,
    abs(coalesce(nullif(l.applied_fc, 0), l.sum_applied)) AS amount,
    'sap_b1' AS source_system
FROM raw_sap_b1_payment_invoices AS l
WHERE coalesce(l.invoice_type, 'it_Invoice') IN ('it_Invoice', 'it_DownPayment') AND l.sum_applied IS NOT NULL
{% if has('raw_sap_b1_outgoing_payment_invoices') %}
UNION ALL
SELECT l.entity, 'CN-' || CAST(l.doc_entry AS TEXT), 'B1-OUT-' || CAST(l.payment_doc_entry AS TEXT),
       abs(coalesce(nullif(l.applied_fc, 0), l.sum_applied)), 'sap_b1'
FROM raw_sap_b1_outgoing_payment_invoices AS l
WHERE l.invoice_type = 'it_CredItnote' AND l.sum_applied IS NOT NULL
{% endif %}
