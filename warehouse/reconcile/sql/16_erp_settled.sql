-- Invoices the ERP settled with its own receipt before Lettrage's bank and provider data begin, or in a
-- currency none of them shows
-- (int_erp_settlements; the bound is the first bank line, else the first provider payment, run._data_start; a
-- receipt of the erp.receipt_before_data_days before it counts unless a bank credit of its amount
-- follows, and, when provider data begin earlier, unless they show a payment or payout of its amount
-- near its date): no statement line can show that money, so the ERP's lettrage is
-- the evidence, applied for what the invoice still owes after its credit notes, less what the ERP still shows
-- open (an ERP whose invoices list their receipts says what a partial payment left). Within the
-- statements' period the bank line is the evidence instead, and an ERP-settled invoice Lettrage
-- finds no payment for is an erp_disagreement (62). Applied before the cascade, so a payment that
-- names such an invoice later is a second payment (an overpayment), in full and incremental runs
-- alike. The match is the receipt's: an incremental run redoes it when the receipt is in scope
-- (new or changed, or its invoice changed: run._fill_scope), else keeps it.
{% if erp_settle %}
{% set write_off %}s.applied IS NOT NULL AND s.from_last = 1 AND coalesce(i.erp_amount_open, 0) = 0
    AND i.open0 - s.applied_all > 0 AND i.open0 - s.applied_all <= i.amount_total * {{ tol.erp_settled_pct }} / 100{% endset %}
{% if incremental %}
INSERT INTO rc_inv
{{ invoice_rows("SELECT s.invoice_id FROM int_erp_settlements AS s WHERE s.entity = :entity
                 AND s.payment_id IN (SELECT payment_id FROM rc_scope)
                 AND s.invoice_id NOT IN (SELECT invoice_id FROM rc_inv)") }};
{% endif %}

INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
{% if settle_bound %}
WITH seen AS (
    -- the currencies the bank and provider data show (warehouse.sql shown_money)
    SELECT currency FROM ({{ shown_money("entity = :entity") }}) AS s
)
{% endif %}
SELECT i.entity, md5(i.entity || '|' || s.payment_id || '|' || i.invoice_id || '|erp_lettrage'), s.payment_id,
       i.invoice_id,
       -- what the ERP says this receipt applied, within what the invoice still owes after the receipts before it
       -- (in date order); else all the ERP settled of it
       CAST(CASE WHEN s.applied IS NULL THEN i.open0 - coalesce(i.erp_amount_open, 0)
                 ELSE least(s.applied, greatest(i.open0 - coalesce(s.applied_before, 0), 0)) END AS DECIMAL(18,2)),
       -- the last receipt of an invoice the ERP shows settled closes what the receipts did not pay (a discount
       -- taken, a small write-off), up to erp_settled_pct of the invoice: the ERP's word, not money received
       CAST(CASE WHEN {{ write_off }} THEN i.open0 - s.applied_all ELSE 0 END AS DECIMAL(18,2)),
       CASE WHEN {{ write_off }} THEN 'settled in the ERP (lettrage ' || s.erp_lettrage || ')' END, i.currency,
       'erp_lettrage', {{ conf.erp_lettrage }},
       CASE WHEN coalesce(i.erp_amount_open, 0) > 0
            THEN 'paid in part in the ERP, ' || CAST(i.erp_amount_open AS VARCHAR) || ' still open there ('
            ELSE 'settled in the ERP (' END
       || 'lettrage ' || s.erp_lettrage || ', receipt of ' || CAST(s.settled_on AS VARCHAR) || ') '
       || {% if settle_bound %}CASE WHEN i.currency IN (SELECT currency FROM seen) THEN
          'before the bank {% if provider_before %}statements{% else %}and provider data{% endif %} begin ('
          || CAST(CAST(:data_start AS DATE) AS VARCHAR) || ')'
          ELSE 'in ' || i.currency || ', which no bank statement or provider loaded shows' END{% else %}
          'before the bank and provider data begin (none loaded)'{% endif %},
       '{{ state.erp_lettrage }}', s.settled_on
FROM (
    SELECT x.*, sum(x.applied) OVER (PARTITION BY x.invoice_id ORDER BY x.settled_on, x.payment_id
                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS applied_before,
           sum(x.applied) OVER (PARTITION BY x.invoice_id) AS applied_all,
           row_number() OVER (PARTITION BY x.invoice_id ORDER BY x.settled_on DESC, x.payment_id DESC) AS from_last
    FROM int_erp_settlements AS x
    -- (an incremental run's open0 already nets the receipts it keeps: only those it redoes come before)
    WHERE x.entity = :entity {% if incremental %}AND x.payment_id IN (SELECT payment_id FROM rc_scope){% endif %}
) AS s
JOIN rc_inv AS i ON i.invoice_id = s.invoice_id
WHERE s.entity = :entity AND i.doc_type = 'invoice' AND i.open0 - coalesce(i.erp_amount_open, 0) > 0
  AND (s.applied IS NULL OR i.open0 - coalesce(s.applied_before, 0) > 0)
  {% if settle_bound %}
  AND (
      -- in a currency of no bank account loaded nor provider (a USD account whose statements Lettrage
      -- does not receive): no bank line will ever show that money
      i.currency NOT IN (SELECT currency FROM seen)
      -- before the bank data begin; in the last days before, only when no bank credit of the receipts'
      -- amount follows within those days (the ERP may book a receipt before the bank does)
      OR (s.settled_on < CAST(:data_start AS DATE)
          AND (s.settled_on < CAST(:settle_before AS DATE) OR NOT EXISTS (
               SELECT 1 FROM fct_payment AS b
               WHERE b.entity = :entity AND b.channel <> 'erp' AND b.amount = s.received
                 -- (a credit from another customer's known account is that customer's money, not this receipt's)
                 AND (b.customer_id IS NULL OR b.customer_id = i.customer_id)
                 AND b.paid_on >= s.settled_on AND b.paid_on < CAST(:data_start AS DATE) + {{ erp.receipt_before_data_days }}))
          {% if provider_before %}
          -- provider data begin before the statements: a receipt they show (a collection or card payment of its
          -- amount, or a payout of it net or gross, in the ERP receipt window around its date) is theirs to match
          AND NOT EXISTS (
               SELECT 1 FROM fct_payment AS q
               WHERE q.entity = :entity AND q.channel NOT IN ('erp', 'bank_transfer') AND q.amount = s.received
                 AND s.settled_on >= q.paid_on - {{ erp.receipt_days_before_bank }}
                 AND s.settled_on <= q.paid_on + {{ erp.receipt_days_after_bank }})
          AND NOT EXISTS (
               SELECT 1 FROM fct_payout AS o
               WHERE o.entity = :entity AND (o.amount = s.received OR o.amount + coalesce(o.fees, 0) = s.received)
                 AND s.settled_on >= o.arrival_date - {{ erp.receipt_days_before_bank }}
                 AND s.settled_on <= o.arrival_date + {{ erp.receipt_days_after_bank }})
          {% endif %}))
  {% endif %}
  {% if incremental %}AND s.payment_id IN (SELECT payment_id FROM rc_scope){% endif %}
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS r WHERE r.payment_id = s.payment_id AND r.invoice_id = s.invoice_id);

UPDATE rc_inv SET open0 = rc_inv.open0 - m.settled
FROM (SELECT invoice_id, sum(amount_applied + coalesce(adjustment, 0)) AS settled FROM rc_match
      WHERE rule = 'erp_lettrage' AND state = 'auto' GROUP BY invoice_id) AS m
WHERE m.invoice_id = rc_inv.invoice_id;
{% endif %}
