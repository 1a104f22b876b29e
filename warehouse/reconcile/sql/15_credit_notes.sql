-- Both sides of the credit notes' matches ``only`` selects come off open0 (summed first: an invoice may take
-- two credit notes and a credit note serve two invoices, and an UPDATE ... FROM applies one joined row per
-- target row).
{% macro net_in_open0(only='TRUE') -%}
UPDATE rc_inv SET open0 = rc_inv.open0 - m.applied
FROM (SELECT invoice_id, sum(amount_applied) AS applied FROM rc_match WHERE rule = 'credit_note' AND {{ only }}
      GROUP BY invoice_id) AS m
WHERE m.invoice_id = rc_inv.invoice_id;

UPDATE rc_inv SET open0 = rc_inv.open0 + m.used
FROM (SELECT payment_id, sum(amount_applied) AS used FROM rc_match WHERE rule = 'credit_note' AND {{ only }}
      GROUP BY payment_id) AS m
WHERE m.payment_id = rc_inv.invoice_id;
{%- endmacro %}

{% if cn_refunds %}

-- Credit notes paid back to the customer (int_credit_note_refunds: a transfer naming the credit note, the ERP's
-- lettering of it with its refund entry, or a transfer of exactly its amount to its customer's account): each
-- refund closes what the credit note still holds after the invoices lettered with it, in date order, as a
-- negative application of the bank line (or of the ERP's entry before the statements begin) to the credit note.
-- First: money handed back is not also credit left to set against an invoice (a credit note of 600.00 lettered
-- with its invoice, the 360.00 paid back and the payment of the invoice short by the other 240.00, all under one
-- code: the invoice takes 240.00 of it, not 600.00).
INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
WITH r AS (
    SELECT r.*, c.open0, c.invoice_number AS cn_number,
           coalesce(sum(CASE WHEN r.evidence <> 'customer_amount_ambiguous' THEN r.amount ELSE 0 END)
                    OVER (PARTITION BY r.cn_id ORDER BY r.refunded_on, r.refund_id
                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
    FROM int_credit_note_refunds AS r
    JOIN rc_inv AS c ON c.invoice_id = r.cn_id
    WHERE r.entity = :entity AND c.open0 < 0
      AND NOT EXISTS (SELECT 1 FROM rc_blocked AS b WHERE b.payment_id = r.refund_id AND b.invoice_id = r.cn_id)
      -- (a debit people placed themselves is theirs: rc_fixed)
      AND r.refund_id NOT IN (SELECT payment_id FROM rc_fixed WHERE payment_id IS NOT NULL)
)
SELECT :entity, md5(:entity || '|' || refund_id || '|' || cn_id || '|credit_note_refund'), refund_id, cn_id,
       CAST(-least(amount, -open0 - before) AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)), CAST(NULL AS VARCHAR),
       currency, 'credit_note_refund',
       CASE WHEN evidence = 'customer_amount_ambiguous' THEN {{ conf.amount_only }} ELSE {{ conf.credit_note_refund }} END,
       'credit note ' || coalesce(cn_number, cn_id) || ' paid back: ' || CAST(amount AS VARCHAR) || ' ' || currency
       || ' on ' || CAST(refunded_on AS VARCHAR) || ' (' || detail || ')',
       -- (which of a customer's credit notes of one amount a transfer paid back is a person's call: suggested)
       CASE WHEN evidence = 'customer_amount_ambiguous' THEN 'suggested' ELSE '{{ state.credit_note_refund }}' END,
       refunded_on
FROM r WHERE -open0 - before > 0;

UPDATE rc_inv SET open0 = rc_inv.open0 - m.applied
FROM (SELECT invoice_id, sum(amount_applied) AS applied FROM rc_match
      WHERE rule = 'credit_note_refund' AND state IN ('auto', 'confirmed') GROUP BY invoice_id) AS m
WHERE m.invoice_id = rc_inv.invoice_id;

-- the transfers left to a person: one exception per debit, naming the credit notes it could have paid back
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT :entity, 'ambiguous', NULL, min(m.invoice_id), NULL, m.payment_id, -min(m.amount_applied), min(m.currency),
       'a transfer of ' || CAST(-min(m.amount_applied) AS VARCHAR) || ' ' || min(m.currency)
       || ' paid back one of ' || CAST(count(*) AS VARCHAR) || ' credit notes of that amount of the customer ('
       || string_agg(i.invoice_number, ', ' ORDER BY i.invoice_number) || '): confirm which'
FROM rc_match AS m
JOIN rc_inv AS i ON i.invoice_id = m.invoice_id
WHERE m.rule = 'credit_note_refund' AND m.state = 'suggested'
GROUP BY m.payment_id;
{% endif %}

{% if erp_credit_applications %}
-- Credit notes the ERP applied to invoices by amount (int_erp_credit_applications: NetSuite's credit memo
-- applications, Sage Accounting's allocations): each pair for what the ERP applied, at most what either still
-- holds (pairs in the order of the invoices' due dates and the credit notes' issue dates). What the ERP left
-- unapplied stays the customer's credit: laid whole against the invoices of its code, a memo of 150.00 applied
-- for 100.00 closed 50.00 that the customer's payment then paid again. The code's laying below leaves them out.
INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
WITH a AS (
    SELECT a.cn_id, a.invoice_id, a.amount, i.open0 AS inv_open, -c.open0 AS cn_open, i.currency,
           c.invoice_number AS cn_number, c.issue_date,
           {{ sum_before('a.amount', 'a.cn_id', 'i.due_date, a.invoice_id') }} AS cn_before,
           {{ sum_before('a.amount', 'a.invoice_id', 'c.issue_date, a.cn_id') }} AS inv_before
    FROM int_erp_credit_applications AS a
    JOIN rc_inv AS i ON i.invoice_id = a.invoice_id
    JOIN rc_inv AS c ON c.invoice_id = a.cn_id
    WHERE a.entity = :entity AND i.open0 > 0 AND c.open0 < 0
      AND NOT EXISTS (SELECT 1 FROM rc_blocked AS b WHERE b.payment_id = a.cn_id AND b.invoice_id = a.invoice_id)
)
SELECT :entity, md5(:entity || '|' || cn_id || '|' || invoice_id || '|credit_note'), cn_id, invoice_id,
       CAST(least(amount, cn_open - cn_before, inv_open - inv_before) AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)),
       CAST(NULL AS VARCHAR), currency, 'credit_note', {{ conf.credit_note }},
       'credit note ' || coalesce(cn_number, cn_id) || ' applied to this invoice in the ERP for '
       || CAST(amount AS VARCHAR) || ' ' || currency,
       '{{ state.credit_note }}', issue_date
FROM a WHERE least(amount, cn_open - cn_before, inv_open - inv_before) > 0;

{{ net_in_open0("payment_id IN (" ~ erp_applied_cns() ~ ")") }}

{% endif %}
-- Credit notes the ERP lettered with invoices (same lettrage code, same customer and currency)
-- are applied to them first, so the payment then meets the net: credit notes in date order laid
-- against invoices by due date, each credit note taking what overlaps it (one credit note and one
-- invoice; one for two invoices; two for two, as a transfer net of both, all lettered together).
INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
WITH docs AS (
    SELECT d.*,
           -- where each document's amount sits on the code's line of credits (credit notes) or debts (invoices)
           {{ sum_before('abs(d.open0)', 'd.entity, d.erp_lettrage, d.customer_id, d.currency, d.doc_type',
                         "CASE WHEN d.doc_type = 'invoice' THEN d.due_date ELSE d.issue_date END, d.invoice_id") }}
               AS start_at
    FROM rc_inv AS d
    WHERE d.erp_lettrage IS NOT NULL AND d.erp_lettrage <> ''
      AND ((d.doc_type = 'invoice' AND d.open0 > 0) OR (d.doc_type = 'credit_note' AND d.open0 < 0))
    {% if erp_credit_applications %}
      AND d.invoice_id NOT IN ({{ erp_applied_cns() }})
    {% endif %}
), pair AS (
    SELECT i.entity, c.invoice_id AS cn_id, i.invoice_id, i.currency, i.erp_lettrage, c.invoice_number AS cn_number,
           c.issue_date,
           {{ overlap('c.start_at', '-c.open0', 'i.start_at', 'i.open0') }} AS applied
    FROM docs AS i
    JOIN docs AS c ON c.entity = i.entity AND c.erp_lettrage = i.erp_lettrage AND c.customer_id = i.customer_id
                  AND c.currency = i.currency AND c.doc_type = 'credit_note'
    WHERE i.doc_type = 'invoice'
)
SELECT entity, md5(entity || '|' || cn_id || '|' || invoice_id || '|credit_note'), cn_id, invoice_id,
       CAST(applied AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)), CAST(NULL AS VARCHAR), currency, 'credit_note',
       {{ conf.credit_note }},
       'credit note ' || coalesce(cn_number, cn_id) || ' lettered with this invoice in the ERP (code ' || erp_lettrage || ')',
       '{{ state.credit_note }}', issue_date
FROM pair WHERE applied > 0;

{{ net_in_open0("payment_id NOT IN (" ~ erp_applied_cns() ~ ")"
                if erp_credit_applications else "TRUE") }}
{% if refunds %}

-- Credit notes issued for a refund and not lettered (10_inputs: rc_refund_cn): each settles what the
-- refund took back from the invoice the refunded payment named, at most what either still owes. The
-- refunded payment then meets its net (10_inputs) and the invoice closes: paid by the payment and
-- the credit note (a part refund), or credited (a full one).
INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
SELECT i.entity, md5(i.entity || '|' || r.cn_id || '|' || r.invoice_id || '|credit_note'), r.cn_id, r.invoice_id,
       CAST(least(r.refunded, -c.open0, i.open0) AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)), CAST(NULL AS VARCHAR),
       i.currency, 'credit_note', {{ conf.credit_note }},
       'credit note ' || coalesce(r.cn_number, r.cn_id) || ' issued for the refund of '
       || CAST(r.refunded AS VARCHAR) || ' ' || i.currency || ' on payment ' || r.payment_id
       || ', which named this invoice (not lettered in the ERP)',
       '{{ state.credit_note }}', c.issue_date
FROM rc_refund_cn AS r
JOIN rc_inv AS i ON i.invoice_id = r.invoice_id
JOIN rc_inv AS c ON c.invoice_id = r.cn_id
WHERE least(r.refunded, -c.open0, i.open0) > 0;

{{ net_in_open0("payment_id IN (SELECT cn_id FROM rc_refund_cn)") }}
{% endif %}
{% if named_credit_notes %}

-- Credit notes not lettered that name their invoice in their own text (10_inputs: rc_named_cn): each credits
-- what the invoice still owes, at most its own amount. Not an invoice a payment naming it had already paid in
-- full by the credit note's date: a credit note raised after its invoice was paid is the customer's credit (a
-- provider's customer balance, a deduction from the next payment), not a reduction of that invoice.
INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
SELECT i.entity, md5(i.entity || '|' || n.cn_id || '|' || n.invoice_id || '|credit_note'), n.cn_id, n.invoice_id,
       CAST(least(-c.open0, i.open0) AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)), CAST(NULL AS VARCHAR),
       i.currency, 'credit_note', {{ conf.credit_note }},
       'credit note ' || coalesce(n.cn_number, n.cn_id) || ' names this invoice in its text (not lettered in the ERP)',
       '{{ state.credit_note }}', c.issue_date
FROM rc_named_cn AS n
JOIN rc_inv AS i ON i.invoice_id = n.invoice_id
JOIN rc_inv AS c ON c.invoice_id = n.cn_id
WHERE least(-c.open0, i.open0) > 0
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS b WHERE b.payment_id = n.cn_id AND b.invoice_id = n.invoice_id)
  AND NOT EXISTS (
      SELECT 1 FROM reconcile_invoice_key AS k
      JOIN rc_tok AS t ON t.token = k.k1 AND t.currency = k.currency
      JOIN rc_pay AS p ON p.payment_id = t.payment_id
      WHERE k.entity = :entity AND k.invoice_id = n.invoice_id
        AND p.status = 'succeeded' AND p.paid_on <= c.issue_date AND p.amount >= i.open0);

{{ net_in_open0("payment_id IN (SELECT cn_id FROM rc_named_cn)") }}
{% endif %}
{% if balance_applications %}

-- Credit the provider applied from the customer's balance to an invoice (int_invoice_balance_applications: a
-- Stripe invoice that used the credit of a credit note raised on an invoice already paid): the customer's open
-- credit notes, oldest first, laid on those invoices in the order the provider applied the credit, each pair
-- taking what overlaps it. The invoice then owes what the provider charged (amount_due), or nothing.
DROP TABLE IF EXISTS rc_balance_cn;
CREATE TEMP TABLE rc_balance_cn AS
WITH used AS (
    SELECT a.invoice_id, i.customer_id, i.currency, min(a.applied_on) AS applied_on, min(a.source_id) AS source_id,
           least(sum(a.amount), max(i.open0)) AS amount
    FROM int_invoice_balance_applications AS a
    JOIN rc_inv AS i ON i.invoice_id = a.invoice_id
    WHERE a.entity = :entity AND i.doc_type = 'invoice' AND i.open0 > 0
    GROUP BY a.invoice_id, i.customer_id, i.currency
), debt AS (
    SELECT u.*, {{ sum_before('u.amount', 'u.customer_id, u.currency', 'u.applied_on, u.invoice_id') }} AS start_at
    FROM used AS u
), credit AS (
    SELECT c.invoice_id AS cn_id, c.invoice_number AS cn_number, c.customer_id, c.currency, c.issue_date,
           -c.open0 AS amount,
           {{ sum_before('-c.open0', 'c.customer_id, c.currency', 'c.issue_date, c.invoice_id') }} AS start_at
    FROM rc_inv AS c
    WHERE c.doc_type = 'credit_note' AND c.open0 < 0 AND c.customer_id IN (SELECT customer_id FROM used)
)
SELECT md5(:entity || '|' || c.cn_id || '|' || d.invoice_id || '|credit_note') AS match_id, c.cn_id, c.cn_number,
       d.invoice_id, d.source_id AS provider_invoice, d.currency, c.issue_date,
       {{ overlap('d.start_at', 'd.amount', 'c.start_at', 'c.amount') }} AS applied
FROM debt AS d
JOIN credit AS c ON c.customer_id = d.customer_id AND c.currency = d.currency
WHERE {{ overlap('d.start_at', 'd.amount', 'c.start_at', 'c.amount') }} > 0
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS b WHERE b.payment_id = c.cn_id AND b.invoice_id = d.invoice_id);

INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
SELECT :entity, match_id, cn_id, invoice_id, CAST(applied AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)),
       CAST(NULL AS VARCHAR), currency, 'credit_note', {{ conf.credit_note }},
       'credit note ' || coalesce(cn_number, cn_id) || ' used from the customer''s provider balance on this invoice '
       || '(provider invoice ' || provider_invoice || ')',
       '{{ state.credit_note }}', issue_date
FROM rc_balance_cn
WHERE match_id NOT IN (SELECT match_id FROM rc_match);

{{ net_in_open0("match_id IN (SELECT match_id FROM rc_balance_cn)") }}
{% endif %}
