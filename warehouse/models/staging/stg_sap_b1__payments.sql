-- SAP Business One incoming payments: evidence for reconciliation. erp_lettrage lists the
-- invoices ('INV-<DocEntry>') and down payment invoices ('DPI-<DocEntry>') their PaymentInvoices lines settle;
-- a payment on account has none. An outgoing payment to a customer (VendorPayments, DocType rCustomer) is money
-- paid back: a negative receipt lettered with the credit memos its lines refund ('CN-<DocEntry>'),
-- int_credit_note_refunds closes them with it.
-- shape: payments
-- requires: raw_sap_b1_incoming_payments
WITH lines AS (
    {% if has('raw_sap_b1_payment_invoices') %}
    SELECT entity, payment_doc_entry, string_agg(invoice_id, ',' ORDER BY invoice_id) AS invoice_ids
    FROM (SELECT entity, payment_doc_entry, {{ b1_document_id() }} AS invoice_id
          FROM raw_sap_b1_payment_invoices
          WHERE coalesce(invoice_type, 'it_Invoice') IN ('it_Invoice', 'it_DownPayment')) AS l
    GROUP BY entity, payment_doc_entry
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS BIGINT) AS payment_doc_entry, CAST(NULL AS TEXT) AS invoice_ids WHERE 1 = 0
    {% endif %}
)
{%- set outgoing = has('raw_sap_b1_outgoing_payments') %}
, documents AS (
    -- receipts, and outgoing payments to customers (money paid back: sign -1), with what each letters
    SELECT p.entity, 'PAY' AS kind, 1 AS sign, p.doc_entry, p.card_code, p.doc_currency, p.doc_date, p.transfer_date,
           p.transfer_sum, p.cash_sum, p.checks_sum, p.cards_sum, p.transfer_reference, p.remarks,
           l.invoice_ids AS lettered
    FROM raw_sap_b1_incoming_payments AS p
    LEFT JOIN lines AS l ON l.entity = p.entity AND l.payment_doc_entry = p.doc_entry
    WHERE coalesce(p.cancelled, 'tNO') = 'tNO'
    {% if outgoing %}
    UNION ALL
    SELECT p.entity, 'OUT', -1, p.doc_entry, p.card_code, p.doc_currency, p.doc_date, p.transfer_date,
           p.transfer_sum, p.cash_sum, p.checks_sum, p.cards_sum, p.transfer_reference, p.remarks, r.credit_notes
    FROM raw_sap_b1_outgoing_payments AS p
    LEFT JOIN (
        {% if has('raw_sap_b1_outgoing_payment_invoices') %}
        SELECT entity, payment_doc_entry,
               string_agg('CN-' || CAST(doc_entry AS TEXT), ',' ORDER BY doc_entry) AS credit_notes
        FROM raw_sap_b1_outgoing_payment_invoices WHERE invoice_type = 'it_CredItnote'
        GROUP BY entity, payment_doc_entry
        {% else %}
        SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS BIGINT) AS payment_doc_entry,
               CAST(NULL AS TEXT) AS credit_notes
        WHERE 1 = 0
        {% endif %}
    ) AS r ON r.entity = p.entity AND r.payment_doc_entry = p.doc_entry
    WHERE coalesce(p.cancelled, 'tNO') = 'tNO' AND coalesce(p.doc_type, 'rCustomer') = 'rCustomer'
    {% endif %}
)
SELECT
    d.entity,
    'B1-' || d.kind || '-' || CAST(d.doc_entry AS TEXT) AS payment_id,
    'erp' AS channel,
    d.card_code AS customer_id,
    -- paid by transfer, cash, cheques and cards at once, all in the document's currency
    d.sign * (coalesce(d.transfer_sum, 0) + coalesce(d.cash_sum, 0) + coalesce(d.checks_sum, 0)
              + coalesce(d.cards_sum, 0)) AS amount,
    0 AS fee,
    upper(d.doc_currency) AS currency,
    coalesce(d.transfer_date, d.doc_date) AS paid_on,
    'succeeded' AS status,
    concat_ws(' ', d.transfer_reference, d.remarks) AS reference,
    CAST(NULL AS TEXT) AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    d.lettered AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    CAST(NULL AS TEXT) AS payer_email,
    CAST(NULL AS TEXT) AS mandate_id,
    'sap_b1' AS source_system,
    d.kind || '-' || CAST(d.doc_entry AS TEXT) AS source_id
FROM documents AS d
