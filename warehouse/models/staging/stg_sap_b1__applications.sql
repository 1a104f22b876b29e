-- What each SAP Business One incoming payment applied to each invoice (PaymentInvoices): two payments closing
-- one invoice each settle their own part of it. In the invoice's currency: AppliedFC for a foreign-currency
-- document (SumApplied is in the company's currency), SumApplied otherwise (AppliedFC 0).
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
