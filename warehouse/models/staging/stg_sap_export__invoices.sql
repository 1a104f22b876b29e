-- Invoices and credit notes of the SAP customer line items (BSID open, BSAD cleared).
-- Payment documents (BLART in the layout's payment types) are left to the payments
-- model, except their debit lines: a residual item (Restposten: the part a partial payment
-- left open, posted as a new debit in the payment document) or money paid back to the
-- customer is owed by the customer like an invoice, not money received. The printed number is XBLNR when filled, else the document number; the
-- clearing document (AUGBL) is SAP's own lettrage, kept as evidence.
-- A residual item continues the one invoice its payment document cleared for that customer: SAP
-- closed the invoice (BSAD) and carried what the payment left owing to the new item, often under the
-- invoice's own XBLNR. Lettrage keeps the invoice as the document owed, folding the residual item in:
-- the bank's partial payment pays the invoice (which the remittance names), and what the residual
-- item still has open in SAP is what the ERP says the invoice still owes. Two documents under one
-- number made that payment ambiguous and counted the debt twice. A residual item whose payment
-- document cleared no invoice of its customer (or several) stays a document of its own.
-- A payment's reversal document (a returned direct debit) is no invoice: see staging/_sap.jinja. Nor are noted
-- items (a down-payment request, F-37), down payments received (special G/L A: stg_sap_export__payments) or the
-- document clearing a down payment against its invoice (F-39).
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
        max({{ sap_invoice_ref('raw_sap_export_items') }}) AS refers_to,
        min(company_code) AS company_code
    FROM raw_sap_export_items
    WHERE (document_type NOT IN ({{ sap_payment_doc_types }}) OR amount > 0)
      -- noted items (a down-payment request) and down payments are not owed; nor is a down payment's clearing
      AND NOT {{ sap_noted() }} AND coalesce(special_gl, '') <> 'A'
      AND NOT EXISTS (SELECT 1 FROM ({{ sap_down_payment_clearings() }}) AS c
                      WHERE c.entity = raw_sap_export_items.entity AND c.fiscal_year = raw_sap_export_items.fiscal_year
                        AND c.document_number = raw_sap_export_items.document_number)
      -- a reversal of a payment (a returned direct debit) is owed by nobody (staging/_sap.jinja)
      AND NOT EXISTS (SELECT 1 FROM ({{ sap_reversals() }}) AS rv
                      WHERE rv.entity = raw_sap_export_items.entity
                        AND rv.document_number = raw_sap_export_items.document_number)
    GROUP BY entity, fiscal_year, document_number
),
continued AS (
    -- residual items (debit lines of a payment document) and the one invoice that document cleared
    SELECT r.entity, r.fiscal_year AS r_year, r.document_number AS r_number,
           min(o.fiscal_year) AS o_year, min(o.document_number) AS o_number
    FROM documents AS r
    JOIN documents AS o
      ON o.entity = r.entity AND o.customer_id = r.customer_id AND o.erp_lettrage = r.document_number
     AND o.amount_total > 0 AND o.document_type NOT IN ({{ sap_payment_doc_types }})
     AND upper(o.currency) = upper(r.currency)
    WHERE r.document_type IN ({{ sap_payment_doc_types }}) AND r.amount_total > 0
    GROUP BY r.entity, r.fiscal_year, r.document_number
    HAVING count(*) = 1
),
carried AS (
    -- per continued invoice, what its residual items still have open in SAP
    SELECT c.entity, c.o_year, c.o_number, sum(r.erp_amount_open) AS still_open
    FROM continued AS c
    JOIN documents AS r ON r.entity = c.entity AND r.fiscal_year = c.r_year AND r.document_number = c.r_number
    GROUP BY c.entity, c.o_year, c.o_number
),
kept AS (
    SELECT d.entity, d.fiscal_year, d.document_number, d.customer_id, d.reference, d.document_type, d.issue_date,
           d.due_date, d.currency, d.amount_total, d.erp_amount_open + coalesce(k.still_open, 0) AS erp_amount_open,
           d.erp_lettrage, d.refers_to, d.company_code
    FROM documents AS d
    LEFT JOIN carried AS k ON k.entity = d.entity AND k.o_year = d.fiscal_year AND k.o_number = d.document_number
    WHERE NOT EXISTS (SELECT 1 FROM continued AS c
                      WHERE c.entity = d.entity AND c.r_year = d.fiscal_year AND c.r_number = d.document_number)
),
referred AS (
    -- the open credit items (partial payments, credit memos) that refer to an invoice SAP keeps open beside them
    -- (the partial-payment method: both stay open until cleared together): what they take off it, and their
    -- documents as the invoice's lettrage, a list as an ERP that names the receipts of an invoice writes it
    SELECT x.entity, {{ sap_invoice_ref('x') }} AS invoice_id, sum(x.amount) AS credited,
           string_agg(DISTINCT x.company_code || '/' || CAST(x.fiscal_year AS TEXT) || '/' || x.document_number, ','
                      ORDER BY x.company_code || '/' || CAST(x.fiscal_year AS TEXT) || '/' || x.document_number) AS listed
    FROM raw_sap_export_items AS x
    WHERE {{ sap_open_referring('x') }}
    GROUP BY x.entity, {{ sap_invoice_ref('x') }}
),
invoice_numbers AS (
    -- a credit memo's XBLNR often names the invoice it credits: then its own number is the
    -- document number (a remittance "INV 90012167 LESS CN 1700000052" names both)
    SELECT DISTINCT entity, coalesce(reference, document_number) AS number FROM kept WHERE amount_total > 0
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
    -- (an open invoice net of the open credit items referring to it, as SAP's own balance of it says)
    CASE WHEN d.amount_total > 0 AND d.erp_lettrage IS NULL AND r.credited IS NOT NULL
         THEN greatest(d.erp_amount_open + r.credited, 0) ELSE d.erp_amount_open END AS erp_amount_open,
    FALSE AS disputed,
    -- (an open credit memo referring to an open invoice shares its lettrage: the reconciliation nets the two)
    CASE WHEN d.erp_lettrage IS NOT NULL THEN d.erp_lettrage
         WHEN d.amount_total > 0 THEN r.listed
         ELSE c.listed END AS erp_lettrage,
    CAST(NULL AS TEXT) AS description,
    FALSE AS write_off,
    'sap_export' AS source_system,
    d.company_code || '/' || CAST(d.fiscal_year AS TEXT) || '/' || d.document_number AS source_id
FROM kept AS d
LEFT JOIN invoice_numbers AS n ON n.entity = d.entity AND n.number = d.reference
LEFT JOIN referred AS r
  ON r.entity = d.entity AND r.invoice_id = CAST(d.fiscal_year AS TEXT) || '-' || d.document_number
LEFT JOIN referred AS c ON c.entity = d.entity AND c.invoice_id = d.refers_to AND d.amount_total < 0
