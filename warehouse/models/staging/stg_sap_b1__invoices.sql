-- SAP Business One A/R invoices, down payment invoices and credit memos (credit memos negative). DocEntry is
-- numbered per object, so ids carry the object ('INV-'/'DPI-'/'CN-'). A down payment invoice (DownPayments: an
-- advance billed before delivery) is owed until a receipt pays it (PaymentInvoices lines of type it_DownPayment);
-- the final invoice that draws it is billed net of it (its DocTotal), so nothing is owed twice. B1's own lettrage is the
-- incoming payments whose PaymentInvoices lines settle the invoice ('PAY-<DocEntry>') and
-- the credit memos based on it ('CN-<DocEntry>', BaseEntry), kept as evidence. A credit
-- memo carries the code of its base invoice, so the two share one code as a lettered FEC
-- pair does and reconciliation nets them (rule credit_note). So does a credit memo a receipt takes in (a PaymentInvoices
-- line of InvoiceType it_CredItnote, negative: the customer paid the invoices net of it): the invoices that receipt
-- pays list it, and it carries their code.
-- A document in a foreign currency is owed in it: DocTotalFc and PaidToDateFC, not DocTotal and PaidToDate
-- (the local currency's). A cancelled document (Cancelled tYES) and the cancellation document B1 adds for it
-- (CancelStatus csCancellation) are owed by nobody (staging/_b1.jinja).
-- shape: invoices
-- requires: raw_sap_b1_invoices
WITH netted AS (
    -- credit memos a receipt takes in, with the invoices that receipt pays (kind and DocEntry)
    {% if has('raw_sap_b1_payment_invoices') %}
    SELECT c.entity, c.doc_entry AS credit_memo, i.invoice_type, i.doc_entry
    FROM raw_sap_b1_payment_invoices AS c
    JOIN raw_sap_b1_payment_invoices AS i
      ON i.entity = c.entity AND i.payment_doc_entry = c.payment_doc_entry
     AND coalesce(i.invoice_type, 'it_Invoice') IN ('it_Invoice', 'it_DownPayment')
    WHERE c.invoice_type = 'it_CredItnote'
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS BIGINT) AS credit_memo, CAST(NULL AS TEXT) AS invoice_type,
           CAST(NULL AS BIGINT) AS doc_entry
    WHERE 1 = 0
    {% endif %}
),
applied AS (
    -- (kind: what the DocEntry numbers, an invoice or a down payment invoice)
    SELECT entity, kind, doc_entry, string_agg(settled_by, ',' ORDER BY settled_by) AS payment_ids
    FROM (SELECT DISTINCT * FROM (
        {% if has('raw_sap_b1_payment_invoices') %}
        SELECT entity, CASE WHEN invoice_type = 'it_DownPayment' THEN 'DPI' ELSE 'INV' END AS kind, doc_entry,
               'PAY-' || CAST(payment_doc_entry AS TEXT) AS settled_by
        FROM raw_sap_b1_payment_invoices
        WHERE coalesce(invoice_type, 'it_Invoice') IN ('it_Invoice', 'it_DownPayment')
        {% else %}
        SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS kind, CAST(NULL AS BIGINT) AS doc_entry,
               CAST(NULL AS TEXT) AS settled_by
        WHERE 1 = 0
        {% endif %}
        {% if has('raw_sap_b1_credit_notes') %}
        UNION ALL
        SELECT entity, 'INV', base_entry, 'CN-' || CAST(doc_entry AS TEXT)
        FROM raw_sap_b1_credit_notes
        WHERE base_entry IS NOT NULL AND {{ b1_owed() }}
        {% endif %}
        UNION ALL
        SELECT entity, CASE WHEN invoice_type = 'it_DownPayment' THEN 'DPI' ELSE 'INV' END, doc_entry,
               'CN-' || CAST(credit_memo AS TEXT)
        FROM netted
    ) AS u) AS s
    GROUP BY entity, kind, doc_entry
),
netted_in AS (
    -- the invoice whose code a credit memo taken in by a receipt carries (one of that receipt's: they share it)
    SELECT entity, credit_memo, kind, doc_entry FROM (
        SELECT entity, credit_memo, CASE WHEN invoice_type = 'it_DownPayment' THEN 'DPI' ELSE 'INV' END AS kind,
               doc_entry,
               row_number() OVER (PARTITION BY entity, credit_memo
                                  ORDER BY CASE WHEN invoice_type = 'it_DownPayment' THEN 1 ELSE 0 END, doc_entry) AS rn
        FROM netted
    ) AS x WHERE rn = 1
),
documents AS (
    SELECT entity, 'INV-' || CAST(doc_entry AS TEXT) AS invoice_id, 'INV' AS kind, doc_entry, doc_num, reference1,
           card_code, 'invoice' AS doc_type, doc_date, doc_due_date, doc_currency, {{ b1_total() }} AS amount_total,
           {{ b1_total() }} - {{ b1_paid() }} AS erp_amount_open, CAST(NULL AS BIGINT) AS base_entry
    FROM raw_sap_b1_invoices
    WHERE {{ b1_owed() }}
    {% if has('raw_sap_b1_down_payments') %}
    UNION ALL
    SELECT entity, 'DPI-' || CAST(doc_entry AS TEXT), 'DPI', doc_entry, doc_num, reference1, card_code, 'invoice',
           doc_date, doc_due_date, doc_currency, {{ b1_total() }}, {{ b1_total() }} - {{ b1_paid() }},
           CAST(NULL AS BIGINT)
    FROM raw_sap_b1_down_payments
    WHERE {{ b1_owed() }}
    {% endif %}
    {% if has('raw_sap_b1_credit_notes') %}
    UNION ALL
    SELECT entity, 'CN-' || CAST(doc_entry AS TEXT) AS invoice_id, 'INV', CAST(NULL AS BIGINT) AS doc_entry, doc_num,
           reference1, card_code, 'credit_note' AS doc_type, doc_date, doc_date AS doc_due_date, doc_currency,
           -{{ b1_total() }} AS amount_total, -({{ b1_total() }} - {{ b1_paid() }}) AS erp_amount_open, base_entry
    FROM raw_sap_b1_credit_notes
    WHERE {{ b1_owed() }}
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
    CAST(NULL AS TEXT) AS description,
    FALSE AS write_off,
    'sap_b1' AS source_system,
    d.invoice_id AS source_id
FROM documents AS d
LEFT JOIN netted_in AS n
  ON d.doc_type = 'credit_note' AND d.base_entry IS NULL AND n.entity = d.entity
 AND 'CN-' || CAST(n.credit_memo AS TEXT) = d.invoice_id
LEFT JOIN applied AS a
  ON a.entity = d.entity AND a.kind = coalesce(n.kind, d.kind) AND a.doc_entry = coalesce(d.doc_entry, d.base_entry, n.doc_entry)
