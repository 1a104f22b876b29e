-- NetSuite invoices (CustInvc) and credit memos (CustCred, negative foreigntotal).
-- NetSuite's own lettrage is the payments and credit memos applied to each invoice
-- (NextTransactionLineLink), kept as evidence: their transaction ids, comma separated.
-- A credit memo carries the code of the invoice it is applied to, so the two share one
-- code as a lettered FEC pair does and reconciliation nets them (rule credit_note):
-- without it a credited invoice stayed overdue beside its open credit memo.
-- Only what NetSuite posted is owed: an invoice pending approval or rejected (posting 'F') and a voided
-- document are no receivable, nor one NetSuite deleted (raw_netsuite_deleted_records).
-- shape: invoices
-- requires: raw_netsuite_transactions
WITH applications AS (
    {% if has('raw_netsuite_payment_applications') %}
    SELECT entity, previousdoc, string_agg(nextdoc, ',' ORDER BY nextdoc) AS applied_by
    FROM raw_netsuite_payment_applications
    WHERE {{ ns_not_deleted('nextdoc') }}
    GROUP BY entity, previousdoc
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS previousdoc, CAST(NULL AS TEXT) AS applied_by WHERE 1 = 0
    {% endif %}
),
credit_memo_of AS (
    {% if has('raw_netsuite_payment_applications') %}
    SELECT entity, nextdoc AS credit_memo, min(previousdoc) AS invoice
    FROM raw_netsuite_payment_applications
    WHERE nexttype = 'CustCred'
    GROUP BY entity, nextdoc
    HAVING count(DISTINCT previousdoc) = 1
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS credit_memo, CAST(NULL AS TEXT) AS invoice WHERE 1 = 0
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
    coalesce(a.applied_by, ca.applied_by) AS erp_lettrage,
    CAST(NULL AS TEXT) AS description,
    'netsuite' AS source_system,
    t.id AS source_id
FROM raw_netsuite_transactions AS t
LEFT JOIN applications AS a ON a.entity = t.entity AND a.previousdoc = t.id
LEFT JOIN credit_memo_of AS c ON c.entity = t.entity AND c.credit_memo = t.id AND t.type = 'CustCred'
LEFT JOIN applications AS ca ON ca.entity = c.entity AND ca.previousdoc = c.invoice
WHERE t.type IN ('CustInvc', 'CustCred')
  AND coalesce(t.posting, 'T') = 'T' AND coalesce(t.voided, 'F') = 'F' AND {{ ns_not_deleted('t.id') }}
