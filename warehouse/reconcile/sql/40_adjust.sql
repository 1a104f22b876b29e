-- Short payments within tolerance: when an invoice's last auto/confirmed payment leaves
-- a small remainder, that match closes it and says why (rounding, early-payment
-- discount, bank charges, what the ERP booked beside the receipt, or the ERP showing the
-- invoice settled). Tolerances come from mappings/matching.yaml.
-- (rc_match holds every match the cascade and the residue found: statistics before the steps read it, else
-- Postgres takes it for 600 rows and 55_erp_agreement nested-loops it over itself, 10 s at 94,000 payments)
{{ analyze('rc_match') }}
DROP TABLE IF EXISTS rc_short;
CREATE TEMP TABLE rc_short AS
WITH applied AS (
    -- (an adjustment a rule already made counts: the ERP's card commission, see residue._erp_receipt)
    SELECT entity, invoice_id, sum(amount_applied + coalesce(adjustment, 0)) AS applied
    -- (credit notes and ERP settlements are already off open0: counted again, a short payment
    -- after a lettered credit note looked settled and kept its remainder open)
    FROM rc_match WHERE state IN ('auto', 'confirmed') AND rule NOT IN {{ netted }} GROUP BY entity, invoice_id
), short AS (
    -- invoices this run left with a remainder (few): only their matches are ranked
    SELECT i.entity, i.invoice_id, i.customer_id, i.amount_total, i.issue_date,
           CAST(i.open0 - a.applied AS DECIMAL(18,2)) AS r,
           CASE WHEN {{ erp_settled('i') }} THEN i.erp_lettrage END AS erp_code
    FROM rc_inv AS i
    JOIN applied AS a ON a.invoice_id = i.invoice_id
    WHERE i.doc_type = 'invoice' AND i.open0 - a.applied > 0
), last_match AS (
    SELECT m.entity, m.invoice_id, m.match_id, m.payment_id, m.paid_on,
           row_number() OVER (PARTITION BY m.invoice_id ORDER BY m.paid_on DESC, m.payment_id DESC) AS rn
    FROM rc_match AS m
    JOIN short AS s ON s.invoice_id = m.invoice_id
    WHERE m.state IN ('auto', 'confirmed') AND m.rule NOT IN {{ netted }}
), rem AS (
    SELECT s.entity, s.invoice_id, s.customer_id, s.amount_total, s.issue_date, l.match_id, l.payment_id, l.paid_on,
           s.r, s.erp_code
    FROM short AS s
    JOIN last_match AS l ON l.invoice_id = s.invoice_id AND l.rn = 1
), erp_fee AS (
    -- The ERP booked this bank credit as one entry (same amount on the bank, a few days apart, a line of
    -- the invoice's customer) whose other lines are exactly the remainder: a discount the payer took
    -- (665 escompte), a factor's commission, charges (627). What the accountant wrote off closes it.
    SELECT rm.match_id
    FROM rem AS rm
    JOIN rc_pay AS p ON p.payment_id = rm.payment_id
    -- (a movement without its bank line books nothing beside the customers: lines - bank = 0)
    JOIN ({{ erp_movements }}) AS mv
      ON mv.currency = p.currency AND mv.bank = p.amount AND mv.lines - mv.bank = rm.r
     AND mv.booked_on >= p.paid_on - {{ erp.receipt_days_before_bank }}
     AND mv.booked_on <= p.paid_on + {{ erp.receipt_days_after_bank }}
    WHERE EXISTS (SELECT 1 FROM int_erp_receipts AS x
                  WHERE x.entity = :entity AND x.movement_id = mv.movement_id AND x.customer_id = rm.customer_id)
    GROUP BY rm.match_id
    HAVING count(*) = 1
)
SELECT rem.match_id, r, rem.entity, rem.payment_id, rem.invoice_id, rem.paid_on, rem.issue_date, rem.amount_total,
       CASE WHEN r <= {{ tol.rounding_abs }} THEN 'rounding difference'
            {% for pct in tol.early_discount_pct %}
            WHEN paid_on <= issue_date + {{ tol.early_discount_days }}
                 AND abs(r - round(amount_total * {{ pct }} / 100, 2)) <= {{ tol.discount_slack_abs }}
                THEN 'early-payment discount {{ pct }}%'
            {% endfor %}
            WHEN r <= {{ tol.bank_charges_abs }} AND r <= amount_total * {{ tol.bank_charges_pct }} / 100
                THEN 'bank charges within tolerance'
            WHEN f.match_id IS NOT NULL THEN 'discount or charges the ERP booked with the receipt'
            -- the bank line says the payer instructed the whole (camt.053 AmtDtls/InstdAmt, same currency) and the
            -- banks on the way took exactly the remainder (charges shared, SHA): the payer paid in full
            WHEN bc.bank_line_id IS NOT NULL
                THEN 'charges the banks deducted on the way (instructed ' || CAST(bc.instructed_amount AS VARCHAR) || ')'
            -- beyond the tolerances, the ERP's word: it shows the invoice settled (bank charges the payer
            -- deducted, a discount or small write-off the accountant booked), up to a share of the invoice
            WHEN erp_code IS NOT NULL AND r <= amount_total * {{ tol.erp_settled_pct }} / 100
                THEN 'settled in the ERP (lettrage ' || erp_code || ')'
       END AS reason
FROM rem
LEFT JOIN erp_fee AS f ON f.match_id = rem.match_id
LEFT JOIN fct_bank_line AS bc
  ON bc.entity = rem.entity AND bc.bank_line_id = rem.payment_id AND bc.instructed_amount IS NOT NULL
 AND upper(bc.instructed_currency) = upper(bc.currency) AND bc.instructed_amount - bc.amount = rem.r;

UPDATE rc_match SET adjustment = s.r,
       adjustment_reason = s.reason,
       explanation = rc_match.explanation || ' ; remainder ' || CAST(s.r AS VARCHAR) || ' closed as ' || s.reason
FROM rc_short AS s
WHERE rc_match.match_id = s.match_id AND s.reason IS NOT NULL;
