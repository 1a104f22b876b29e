-- SAP Business One A/R invoices and credit memos (credit memos negative). DocEntry is
-- numbered per object, so ids carry the object ('INV-'/'CN-'). B1's own lettrage is the
-- incoming payments whose PaymentInvoices lines settle the invoice, kept as evidence.
-- shape: invoices
-- requires: raw_sap_b1_invoices
WITH applied AS (
    {% if has('raw_sap_b1_payment_invoices') %}
    SELECT entity, doc_entry,
           string_agg('PAY-' || CAST(payment_doc_entry AS TEXT), ',' ORDER BY payment_doc_entry) AS payment_ids
    FROM raw_sap_b1_payment_invoices
    WHERE coalesce(invoice_type, 'it_Invoice') = 'it_Invoice'
    GROUP BY entity, doc_entry
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS BIGINT) AS doc_entry, CAST(NULL AS TEXT) AS payment_ids WHERE 1 = 0
    {% endif %}
),
documents AS (
    SELECT entity, 'INV-' || CAST(doc_entry AS TEXT) AS invoice_id, doc_entry, doc_num, reference1, card_code,
           'invoice' AS doc_type, doc_date, doc_due_date, doc_currency, doc_total AS amount_total,
           doc_total - coalesce(paid_to_date, 0) AS erp_amount_open
    FROM raw_sap_b1_invoices
    WHERE coalesce(cancelled, 'tNO') = 'tNO'
    {% if has('raw_sap_b1_credit_notes') %}
    UNION ALL
    SELECT entity, 'CN-' || CAST(doc_entry AS TEXT) AS invoice_id, CAST(NULL AS BIGINT) AS doc_entry, doc_num,
           reference1, card_code, 'credit_note' AS doc_type, doc_date, doc_date AS doc_due_date, doc_currency,
           -doc_total AS amount_total, -(doc_total - coalesce(paid_to_date, 0)) AS erp_amount_open
    FROM raw_sap_b1_credit_notes
    WHERE coalesce(cancelled, 'tNO') = 'tNO'
    {% endif %}
)
SELECT
    d.entity,
    d.invoice_id,
    coalesce(nullif(d.reference1, ''), CAST(d.doc_num AS TEXT)) AS invoice_number,
    d.card_code AS customer_id,
    d.doc_type,
    d.doc_date AS issue_date,
    coalesce(d.doc_due_date, d.doc_date) AS due_date,
    upper(d.doc_currency) AS currency,
    d.amount_total,
    d.erp_amount_open,
    FALSE AS disputed,
    a.payment_ids AS erp_lettrage,
    'sap_b1' AS source_system,
    d.invoice_id AS source_id
FROM documents AS d
LEFT JOIN applied AS a ON a.entity = d.entity AND a.doc_entry = d.doc_entry
