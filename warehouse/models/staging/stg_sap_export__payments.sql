-- Incoming payments posted in SAP (BLART in the payment document types, credit lines): the
-- ERP's own receipts, evidence for reconciliation through their clearing document (AUGBL).
-- shape: payments
-- requires: raw_sap_export_items
SELECT
    entity,
    'SAP-' || CAST(fiscal_year AS TEXT) || '-' || document_number || '-' || CAST(line_item AS TEXT) AS payment_id,
    'erp' AS channel,
    customer AS customer_id,
    -amount AS amount,
    0 AS fee,
    upper(currency) AS currency,
    coalesce(posting_date, document_date) AS paid_on,  -- (an FBL5N list may carry the document date alone)
    'succeeded' AS status,
    concat_ws(' ', reference, assignment, text) AS reference,
    CAST(NULL AS TEXT) AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    nullif(clearing_document, '') AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    CAST(NULL AS TEXT) AS payer_email,
    CAST(NULL AS TEXT) AS mandate_id,
    'sap_export' AS source_system,
    company_code || '/' || CAST(fiscal_year AS TEXT) || '/' || document_number AS source_id
FROM raw_sap_export_items
WHERE document_type IN ({{ sap_payment_doc_types }})
  AND amount <= 0  -- a debit line of a payment document (residual item, money paid back) is an invoice
  -- a payment a reversal cancelled (a returned direct debit) received nothing (staging/_sap.jinja)
  AND NOT EXISTS (SELECT 1 FROM ({{ sap_reversals() }}) AS rv
                  WHERE rv.entity = raw_sap_export_items.entity
                    AND rv.document_number = raw_sap_export_items.clearing_document)
