-- What a provider applied from a customer's credit balance to an ERP invoice (staging models of shape
-- balance_applications: Stripe's invoices that used the customer's credit), on the ERP's invoice: the one its
-- metadata names, else the one carrying the provider's own number. 15_credit_notes lays the customer's open credit
-- notes on these invoices, oldest first, for what the provider says each used.
SELECT b.entity, coalesce(r.invoice_id, n.invoice_id) AS invoice_id, b.amount, b.currency, b.applied_on,
       b.source_system, b.source_id
FROM ({{ union('balance_applications') }}) AS b
LEFT JOIN int_invoices AS r
       ON r.entity = b.entity AND r.doc_type = 'invoice' AND upper(r.currency) = b.currency
      AND upper(r.invoice_number) = upper(b.invoice_ref)
LEFT JOIN int_invoices AS n
       ON n.entity = b.entity AND n.doc_type = 'invoice' AND upper(n.currency) = b.currency
      AND upper(n.invoice_number) = upper(b.number) AND r.invoice_id IS NULL
WHERE b.amount > 0 AND coalesce(r.invoice_id, n.invoice_id) IS NOT NULL
