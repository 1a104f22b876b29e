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
)
SELECT
    entity,
    CAST(fiscal_year AS TEXT) || '-' || document_number AS invoice_id,
    coalesce(reference, document_number) AS invoice_number,
    customer_id,
    CASE WHEN amount_total < 0 THEN 'credit_note' ELSE 'invoice' END AS doc_type,
    issue_date,
    coalesce(due_date, issue_date) AS due_date,
    upper(currency) AS currency,
    amount_total,
    erp_amount_open,
    FALSE AS disputed,
    erp_lettrage,
    'sap_export' AS source_system,
    company_code || '/' || CAST(fiscal_year AS TEXT) || '/' || document_number AS source_id
FROM documents
