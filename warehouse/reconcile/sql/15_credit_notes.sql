-- A credit note the ERP lettered with invoices (same lettrage code, same customer and
-- currency; one credit note in the code) is applied to them first, so the payment then meets
-- the net: to the one invoice, or to several by due date as far as it reaches (a transfer for
-- two invoices net of a credit note, all three lettered together with the receipt).
INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
WITH grp AS (
    SELECT entity, erp_lettrage, customer_id, currency,
           sum(CASE WHEN doc_type = 'invoice' THEN 1 ELSE 0 END) AS n_inv,
           sum(CASE WHEN doc_type = 'credit_note' THEN 1 ELSE 0 END) AS n_cn
    FROM rc_inv WHERE erp_lettrage IS NOT NULL AND erp_lettrage <> ''
    GROUP BY entity, erp_lettrage, customer_id, currency
), ranked AS (
    SELECT i.entity, c.invoice_id AS cn_id, i.invoice_id, i.currency, i.erp_lettrage, c.invoice_number AS cn_number,
           -c.open0 AS credit, i.open0, c.issue_date,
           coalesce(sum(i.open0) OVER (PARTITION BY c.invoice_id ORDER BY i.due_date, i.invoice_id
                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM grp AS g
    JOIN rc_inv AS i ON i.entity = g.entity AND i.erp_lettrage = g.erp_lettrage AND i.customer_id = g.customer_id
                    AND i.currency = g.currency AND i.doc_type = 'invoice'
    JOIN rc_inv AS c ON c.entity = g.entity AND c.erp_lettrage = g.erp_lettrage AND c.customer_id = g.customer_id
                    AND c.currency = g.currency AND c.doc_type = 'credit_note'
    WHERE g.n_inv >= 1 AND g.n_cn = 1 AND c.open0 < 0 AND i.open0 > 0
), pair AS (
    SELECT entity, cn_id, invoice_id, currency, erp_lettrage, cn_number, issue_date,
           greatest(0, least(open0, credit - before)) AS applied
    FROM ranked
)
SELECT entity, md5(entity || '|' || cn_id || '|' || invoice_id || '|credit_note'), cn_id, invoice_id,
       CAST(applied AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)), CAST(NULL AS VARCHAR), currency, 'credit_note',
       {{ conf.credit_note }},
       'credit note ' || coalesce(cn_number, cn_id) || ' lettered with this invoice in the ERP (code ' || erp_lettrage || ')',
       '{{ state.credit_note }}', issue_date
FROM pair WHERE applied > 0;

UPDATE rc_inv SET open0 = rc_inv.open0 - m.amount_applied
FROM rc_match AS m
WHERE m.rule = 'credit_note' AND m.invoice_id = rc_inv.invoice_id;

UPDATE rc_inv SET open0 = rc_inv.open0 + m.amount_applied
FROM rc_match AS m
WHERE m.rule = 'credit_note' AND m.payment_id = rc_inv.invoice_id;
