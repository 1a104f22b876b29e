-- NetSuite invoices (CustInvc) and credit memos (CustCred, negative foreigntotal).
-- NetSuite's own lettrage is the payments and credit memos applied to each invoice
-- (NextTransactionLineLink), kept as evidence: their transaction ids, comma separated.
-- shape: invoices
-- requires: raw_netsuite_transactions
WITH applications AS (
    {% if has('raw_netsuite_payment_applications') %}
    SELECT entity, previousdoc, string_agg(nextdoc, ',' ORDER BY nextdoc) AS applied_by
    FROM raw_netsuite_payment_applications
    GROUP BY entity, previousdoc
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS previousdoc, CAST(NULL AS TEXT) AS applied_by WHERE 1 = 0
    {% endif %}
)
SELECT
    t.entity,
    t.id AS invoice_id,
    t.tranid AS invoice_number,
    t.customer_id,
    CASE WHEN t.type = 'CustCred' THEN 'credit_note' ELSE 'invoice' END AS doc_type,
    t.trandate AS issue_date,
    coalesce(t.duedate, t.trandate) AS due_date,
    upper(t.currency_code) AS currency,
    CASE WHEN t.type = 'CustCred' THEN -abs(t.foreigntotal) ELSE t.foreigntotal END AS amount_total,
    CASE WHEN t.type = 'CustCred' THEN -abs(t.foreignamountremaining) ELSE t.foreignamountremaining END AS erp_amount_open,
    FALSE AS disputed,
    a.applied_by AS erp_lettrage,
    'netsuite' AS source_system,
    t.id AS source_id
FROM raw_netsuite_transactions AS t
LEFT JOIN applications AS a ON a.entity = t.entity AND a.previousdoc = t.id
WHERE t.type IN ('CustInvc', 'CustCred')
