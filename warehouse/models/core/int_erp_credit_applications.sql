-- What the ERP applied of each credit note to each invoice, where it says so by amount (staging models of shape
-- erp_credit_applications: NetSuite, Sage Accounting): one row per pair of one customer and currency, summed (an
-- ERP may apply one memo to one invoice in two steps). 15_credit_notes sets these credit notes against their
-- invoices for these amounts instead of laying them whole against the invoices of their code, so what the ERP left
-- unapplied stays the customer's credit.
SELECT a.entity, a.cn_id, a.invoice_id, sum(a.amount) AS amount, min(a.source_system) AS source_system
FROM ({{ union('erp_credit_applications') }}) AS a
JOIN int_invoices AS c ON c.entity = a.entity AND c.invoice_id = a.cn_id AND c.doc_type = 'credit_note'
JOIN int_invoices AS i ON i.entity = a.entity AND i.invoice_id = a.invoice_id AND i.doc_type = 'invoice'
                      AND i.customer_id = c.customer_id AND upper(i.currency) = upper(c.currency)
WHERE a.amount > 0
GROUP BY a.entity, a.cn_id, a.invoice_id
