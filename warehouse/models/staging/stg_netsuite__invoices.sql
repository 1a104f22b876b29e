-- NetSuite invoices (CustInvc) and credit memos (CustCred, negative foreigntotal), and the credits of journal
-- entries a payment applied to invoices (a write-off: NetSuite's way is a journal crediting A/R, applied to the
-- invoice by a customer payment of 0.00, or beside the money of one).
-- NetSuite's own lettrage is the payments, deposits and credit memos applied to each invoice
-- (NextTransactionLineLink, macro ns_links), kept as evidence: their transaction ids, comma separated.
-- A credit memo, or a journal entry's credit, carries the code of the invoices it is applied to when they share one,
-- so they share one code as a lettered FEC group does and reconciliation nets them (rule credit_note, laid against
-- the invoices by due date): without it a credited invoice stayed overdue beside its open credit memo, and an
-- invoice written off beside its payment of nothing.
-- Only what NetSuite posted is owed: an invoice pending approval or rejected (posting 'F') and a voided
-- document are no receivable, nor one NetSuite deleted (raw_netsuite_deleted_records).
-- shape: invoices
-- requires: raw_netsuite_transactions
WITH links AS (
    {{ ns_links() }}
),
applications AS (
    -- (a credit memo's refund is not its lettrage with invoices: it is read from the refund, int_credit_note_refunds)
    SELECT entity, previousdoc, string_agg(nextdoc, ',' ORDER BY nextdoc) AS applied_by
    FROM links
    WHERE coalesce(previoustype, 'CustInvc') <> 'Journal' AND coalesce(nexttype, '') <> 'CustRfnd'
    GROUP BY entity, previousdoc
),
credit_code AS (
    -- a credit memo's code: the one code its invoices share
    SELECT l.entity, l.nextdoc AS credit_memo, min(a.applied_by) AS code
    FROM links AS l
    JOIN applications AS a ON a.entity = l.entity AND a.previousdoc = l.previousdoc
    WHERE l.nexttype = 'CustCred'
    GROUP BY l.entity, l.nextdoc
    HAVING count(DISTINCT a.applied_by) = 1
),
journal AS (
    -- a journal entry's credit applied to invoices through customer payments: the payment's customer, currency
    -- and date, and the one code the invoices of those payments share
    SELECT j.entity, j.previousdoc AS journal_id, min(p.customer_id) AS customer_id,
           min(p.currency_code) AS currency_code, min(p.trandate) AS applied_on,
           sum(abs(j.foreignamount)) AS credit, min(a.applied_by) AS code,
           count(DISTINCT a.applied_by) AS n_codes
    FROM links AS j
    JOIN raw_netsuite_transactions AS p ON p.entity = j.entity AND p.id = j.nextdoc AND p.type = 'CustPymt'
    LEFT JOIN links AS i ON i.entity = j.entity AND i.nextdoc = j.nextdoc AND coalesce(i.previoustype, 'CustInvc') <> 'Journal'
    LEFT JOIN applications AS a ON a.entity = i.entity AND a.previousdoc = i.previousdoc
    WHERE j.previoustype = 'Journal' AND j.foreignamount IS NOT NULL AND coalesce(p.voided, 'F') = 'F'
    GROUP BY j.entity, j.previousdoc
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
    coalesce(a.applied_by, c.code) AS erp_lettrage,
    CAST(NULL AS TEXT) AS description,
    FALSE AS write_off,
    'netsuite' AS source_system,
    t.id AS source_id
FROM raw_netsuite_transactions AS t
LEFT JOIN applications AS a ON a.entity = t.entity AND a.previousdoc = t.id
LEFT JOIN credit_code AS c ON c.entity = t.entity AND c.credit_memo = t.id AND t.type = 'CustCred'
WHERE t.type IN ('CustInvc', 'CustCred')
  AND coalesce(t.posting, 'T') = 'T' AND coalesce(t.voided, 'F') = 'F' AND {{ ns_not_deleted('t.id') }}
UNION ALL
SELECT
    j.entity,
    j.journal_id AS invoice_id,
    'Journal ' || j.journal_id AS invoice_number,
    j.customer_id,
    'credit_note' AS doc_type,
    j.applied_on AS issue_date,
    j.applied_on AS due_date,
    upper(j.currency_code) AS currency,
    -j.credit AS amount_total,
    CAST(0 AS DECIMAL(18,2)) AS erp_amount_open,
    FALSE AS disputed,
    CASE WHEN j.n_codes = 1 THEN j.code END AS erp_lettrage,
    CAST(NULL AS TEXT) AS description,
    -- (a journal entry's credit applied to an invoice is NetSuite's write-off of it)
    TRUE AS write_off,
    'netsuite' AS source_system,
    j.journal_id AS source_id
FROM journal AS j
WHERE j.credit > 0
