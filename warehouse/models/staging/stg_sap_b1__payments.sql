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
SELECT
    p.entity,
    'B1-PAY-' || CAST(p.doc_entry AS TEXT) AS payment_id,
    'erp' AS channel,
    p.card_code AS customer_id,
    -- paid by transfer, cash, cheques and cards at once, all in the receipt's currency
    coalesce(p.transfer_sum, 0) + coalesce(p.cash_sum, 0) + coalesce(p.checks_sum, 0) + coalesce(p.cards_sum, 0) AS amount,
    0 AS fee,
    upper(p.doc_currency) AS currency,
    coalesce(p.transfer_date, p.doc_date) AS paid_on,
    'succeeded' AS status,
    concat_ws(' ', p.transfer_reference, p.remarks) AS reference,
    CAST(NULL AS TEXT) AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    l.invoice_ids AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    CAST(NULL AS TEXT) AS payer_email,
    CAST(NULL AS TEXT) AS mandate_id,
    'sap_b1' AS source_system,
    'PAY-' || CAST(p.doc_entry AS TEXT) AS source_id
FROM raw_sap_b1_incoming_payments AS p
LEFT JOIN lines AS l ON l.entity = p.entity AND l.payment_doc_entry = p.doc_entry
WHERE coalesce(p.cancelled, 'tNO') = 'tNO'
{% if has('raw_sap_b1_outgoing_payments') %}
UNION ALL
SELECT
    p.entity,
    'B1-OUT-' || CAST(p.doc_entry AS TEXT),
    'erp',
    p.card_code,
    -(coalesce(p.transfer_sum, 0) + coalesce(p.cash_sum, 0) + coalesce(p.checks_sum, 0) + coalesce(p.cards_sum, 0)),
    0,
    upper(p.doc_currency),
    coalesce(p.transfer_date, p.doc_date),
    'succeeded',
    concat_ws(' ', p.transfer_reference, p.remarks),
    CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT),
    r.credit_notes,
    CAST(NULL AS DECIMAL(18,2)), CAST(NULL AS TEXT), CAST(NULL AS TEXT), CAST(NULL AS TEXT),
    'sap_b1',
    'OUT-' || CAST(p.doc_entry AS TEXT)
FROM raw_sap_b1_outgoing_payments AS p
LEFT JOIN (
    {% if has('raw_sap_b1_outgoing_payment_invoices') %}
    SELECT entity, payment_doc_entry, string_agg('CN-' || CAST(doc_entry AS TEXT), ',' ORDER BY doc_entry) AS credit_notes
    FROM raw_sap_b1_outgoing_payment_invoices WHERE invoice_type = 'it_CredItnote'
    GROUP BY entity, payment_doc_entry
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS BIGINT) AS payment_doc_entry, CAST(NULL AS TEXT) AS credit_notes
    WHERE 1 = 0
    {% endif %}
) AS r ON r.entity = p.entity AND r.payment_doc_entry = p.doc_entry
WHERE coalesce(p.cancelled, 'tNO') = 'tNO' AND coalesce(p.doc_type, 'rCustomer') = 'rCustomer'
{% endif %}
