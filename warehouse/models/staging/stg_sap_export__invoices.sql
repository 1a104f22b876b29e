-- Invoices and credit notes of the SAP customer line items (BSID open, BSAD cleared).
-- Payment documents (BLART in the layout's payment types) are left to the payments
-- model, except their debit lines: a residual item (Restposten: the part a partial payment
-- left open, posted as a new debit in the payment document) or money paid back to the
-- customer is owed by the customer like an invoice, not money received. The printed number is XBLNR when filled, else the document number; the
-- clearing document (AUGBL) is SAP's own lettrage, kept as evidence.
-- shape: invoices
-- requires: raw_sap_export_items
WITH documents AS (
    SELECT
        entity,
        fiscal_year,
        document_number,
        min(customer) AS customer_id,
        max(nullif(reference, '')) AS reference,
        min(document_type) AS document_type,
        min(coalesce(document_date, posting_date)) AS issue_date,
        max(net_due_date) AS due_date,
        max(currency) AS currency,
        sum(amount) AS amount_total,
        sum(CASE WHEN coalesce(clearing_document, '') = '' THEN amount ELSE 0 END) AS erp_amount_open,
        max(nullif(clearing_document, '')) AS erp_lettrage,
        min(company_code) AS company_code
    FROM raw_sap_export_items
    WHERE document_type NOT IN ({{ sap_payment_doc_types }}) OR amount > 0
    GROUP BY entity, fiscal_year, document_number
),
invoice_numbers AS (
    -- a credit memo's XBLNR often names the invoice it credits: then its own number is the
    -- document number (a remittance "INV 90012167 LESS CN 1700000052" names both)
    SELECT DISTINCT entity, coalesce(reference, document_number) AS number FROM documents WHERE amount_total > 0
)
SELECT
    d.entity,
    CAST(d.fiscal_year AS TEXT) || '-' || d.document_number AS invoice_id,
    CASE WHEN d.amount_total < 0 AND n.number IS NOT NULL THEN d.document_number
         ELSE coalesce(d.reference, d.document_number) END AS invoice_number,
    d.customer_id,
    CASE WHEN d.amount_total < 0 THEN 'credit_note' ELSE 'invoice' END AS doc_type,
    d.issue_date,
    coalesce(d.due_date, d.issue_date) AS due_date,
    upper(d.currency) AS currency,
    d.amount_total,
    d.erp_amount_open,
    FALSE AS disputed,
    d.erp_lettrage,
    'sap_export' AS source_system,
    d.company_code || '/' || CAST(d.fiscal_year AS TEXT) || '/' || d.document_number AS source_id
FROM documents AS d
LEFT JOIN invoice_numbers AS n ON n.entity = d.entity AND n.number = d.reference
