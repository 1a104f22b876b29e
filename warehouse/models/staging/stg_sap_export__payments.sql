-- Incoming payments posted in SAP (BLART in the payment document types, credit lines): the
-- ERP's own receipts, evidence for reconciliation through their clearing document (AUGBL). A partial payment
-- SAP keeps open beside its invoice (the partial-payment method: the credit item refers to the invoice, REBZG)
-- names that invoice instead (its invoice_id: an ERP receipt listing what it pays). A down payment received
-- (special G/L A) pays what the document clearing it against its invoice (F-39) says: that document's customer
-- credit line's clearing document, or the invoice it refers to; the clearing document itself moves no money.
-- Noted items (a down-payment request) are no receipts.
-- shape: payments
-- requires: raw_sap_export_items
WITH dp AS (
    {{ sap_down_payment_clearings() }}
)
SELECT
    i.entity,
    'SAP-' || CAST(i.fiscal_year AS TEXT) || '-' || i.document_number || '-' || CAST(i.line_item AS TEXT) AS payment_id,
    'erp' AS channel,
    i.customer AS customer_id,
    -i.amount AS amount,
    0 AS fee,
    upper(i.currency) AS currency,
    coalesce(i.posting_date, i.document_date) AS paid_on,  -- (an FBL5N list may carry the document date alone)
    'succeeded' AS status,
    concat_ws(' ', i.reference, i.assignment, i.text) AS reference,
    CAST(NULL AS TEXT) AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    CASE WHEN i.special_gl = 'A' THEN dp.code
         ELSE coalesce(nullif(i.clearing_document, ''), {{ sap_invoice_ref('i') }}) END AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    CAST(NULL AS TEXT) AS payer_email,
    CAST(NULL AS TEXT) AS mandate_id,
    'sap_export' AS source_system,
    i.company_code || '/' || CAST(i.fiscal_year AS TEXT) || '/' || i.document_number AS source_id
FROM raw_sap_export_items AS i
LEFT JOIN dp
  ON dp.entity = i.entity AND dp.document_number = i.clearing_document
WHERE i.document_type IN ({{ sap_payment_doc_types }})
  AND i.amount <= 0  -- a debit line of a payment document (residual item, money paid back) is an invoice
  AND NOT {{ sap_noted('i') }}
  -- (the lines of a down payment's clearing: no money moved)
  AND NOT EXISTS (SELECT 1 FROM dp AS c
                  WHERE c.entity = i.entity AND c.fiscal_year = i.fiscal_year AND c.document_number = i.document_number)
  -- a payment a reversal cancelled (a returned direct debit) received nothing (staging/_sap.jinja)
  AND NOT EXISTS (SELECT 1 FROM ({{ sap_reversals() }}) AS rv
                  WHERE rv.entity = i.entity AND rv.document_number = i.clearing_document)
