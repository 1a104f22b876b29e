-- Sage Accounting sales invoices and credit notes (credit notes negative). Sage's own
-- lettrage is the receipts allocated to each invoice (allocated_artefacts, and a payment on account
-- allocated later through /contact_allocations) and the credit notes raised against it
-- (original_invoice_number when Sage set it against that invoice, or a contact allocation), kept as
-- evidence: their ids, comma separated. A credit note carries the code of its original invoice, so the two share one
-- code as a lettered FEC pair does and reconciliation nets them (rule credit_note).
-- shape: invoices
-- requires: raw_sage_accounting_sales_invoices
{% set lines = (has('raw_sage_accounting_contact_allocation_lines') and has('raw_sage_accounting_contact_allocations')) %}
{% set on_account = lines and has_column('raw_sage_accounting_contact_payments', 'payment_on_account__id') %}
WITH credit_of AS (
    {% if has('raw_sage_accounting_sales_credit_notes') %}
    SELECT entity, credit_note_id, min(invoice_id) AS invoice_id
    FROM (
        SELECT c.entity, c.id AS credit_note_id, i.id AS invoice_id
        FROM raw_sage_accounting_sales_credit_notes AS c
        JOIN raw_sage_accounting_sales_invoices AS i
          ON i.entity = c.entity AND i.invoice_number = c.original_invoice_number
         AND coalesce(i.status__id, '') <> 'VOID'
        WHERE coalesce(c.status__id, '') <> 'VOID'
          -- (a credit note Sage left wholly outstanding was not set against its original invoice: raised after
          -- the invoice was paid, it is the customer's credit, not a reduction of that invoice)
          AND (c.outstanding_amount IS NULL OR c.outstanding_amount < c.total_amount)
        {% if lines %}
        UNION
        {{ sa_credit_note_allocations() }}
        {% endif %}
    ) AS x
    GROUP BY entity, credit_note_id
    HAVING count(DISTINCT invoice_id) = 1
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS credit_note_id, CAST(NULL AS TEXT) AS invoice_id
    WHERE 1 = 0
    {% endif %}
),
allocations AS (
    SELECT entity, artefact_id, string_agg(settled_by, ',' ORDER BY settled_by) AS payment_ids
    FROM (
        {% if has('raw_sage_accounting_payment_allocations') %}
        SELECT entity, artefact_id, payment_id AS settled_by FROM raw_sage_accounting_payment_allocations
        UNION ALL
        {% endif %}
        {% if on_account %}
        SELECT entity, invoice_id AS artefact_id, payment_id AS settled_by FROM ({{ sa_account_allocations() }}) AS poa
        UNION ALL
        {% endif %}
        -- (each branch names its columns: the union takes the first branch's names, and a business with no
        -- allocated receipt yet has only this one)
        SELECT entity, invoice_id AS artefact_id, credit_note_id AS settled_by FROM credit_of
    ) AS s
    GROUP BY entity, artefact_id
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
    CAST(NULL AS TEXT) AS description,
    FALSE AS write_off,
    'sage_accounting' AS source_system,
    d.id AS source_id
FROM documents AS d
LEFT JOIN credit_of AS c ON c.entity = d.entity AND c.credit_note_id = d.id AND d.doc_type = 'credit_note'
LEFT JOIN allocations AS a ON a.entity = d.entity AND a.artefact_id = coalesce(c.invoice_id, d.id)
