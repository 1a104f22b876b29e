-- Sage Accounting sales invoices and credit notes (credit notes negative). Sage's own
-- lettrage is the receipts allocated to each invoice (allocated_artefacts), kept as
-- evidence: the paying contact_payment ids, comma separated.
-- shape: invoices
-- requires: raw_sage_accounting_sales_invoices
WITH allocations AS (
    {% if has('raw_sage_accounting_payment_allocations') %}
    SELECT entity, artefact_id, string_agg(payment_id, ',' ORDER BY payment_id) AS payment_ids
    FROM raw_sage_accounting_payment_allocations
    GROUP BY entity, artefact_id
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS artefact_id, CAST(NULL AS TEXT) AS payment_ids WHERE 1 = 0
    {% endif %}
),
documents AS (
    SELECT
        entity, id, invoice_number AS number, contact__id AS customer_id, 'invoice' AS doc_type,
        date AS issue_date, due_date, currency__id AS currency,
        total_amount AS amount_total, outstanding_amount AS erp_amount_open
    FROM raw_sage_accounting_sales_invoices
    WHERE coalesce(status__id, '') <> 'VOID'
    {% if has('raw_sage_accounting_sales_credit_notes') %}
    UNION ALL
    SELECT
        entity, id, credit_note_number AS number, contact__id AS customer_id, 'credit_note' AS doc_type,
        date AS issue_date, date AS due_date, currency__id AS currency,
        -total_amount AS amount_total, -outstanding_amount AS erp_amount_open
    FROM raw_sage_accounting_sales_credit_notes
    WHERE coalesce(status__id, '') <> 'VOID'
    {% endif %}
)
SELECT
    d.entity,
    d.id AS invoice_id,
    d.number AS invoice_number,
    d.customer_id,
    d.doc_type,
    d.issue_date,
    coalesce(d.due_date, d.issue_date) AS due_date,
    upper(d.currency) AS currency,
    d.amount_total,
    d.erp_amount_open,
    FALSE AS disputed,
    a.payment_ids AS erp_lettrage,
    'sage_accounting' AS source_system,
    d.id AS source_id
FROM documents AS d
LEFT JOIN allocations AS a ON a.entity = d.entity AND a.artefact_id = d.id
