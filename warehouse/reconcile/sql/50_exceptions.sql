-- Exceptions raised set-based (the residue adds unmatched and ambiguous payments).
-- Every succeeded payment ends fully applied, applied with its remainder explained
-- (an exception saying so), or as an exception.
{% if tol.early_discount_pct %}
-- An early-payment discount taken after its term: what the last payment left open is exactly a discount
-- the entity grants, but the payment came later than the days it is granted for. The invoice stays open by
-- it (the tolerances do not close it), and a person decides: accept the discount and write it off, or chase
-- it. A plain partial payment (any other remainder) raises nothing: the invoice's status says it.
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT s.entity, 'amount_mismatch', s.payment_id, s.invoice_id, NULL, NULL, s.r, p.currency,
       'paid ' || CAST(s.paid_on - s.issue_date AS VARCHAR) || ' days after the invoice date, less '
       || CAST(s.r AS VARCHAR) || ' ' || p.currency || ': an early-payment discount ('
       || CASE {% for pct in tol.early_discount_pct %}WHEN abs(s.r - round(s.amount_total * {{ pct }} / 100, 2))
                    <= {{ tol.discount_slack_abs }} THEN '{{ pct }}%' {% endfor %} END
       || ') granted only within {{ tol.early_discount_days }} days; the remainder stays open: accept the discount '
       || '(write it off) or ask the customer for it'
FROM rc_short AS s
JOIN rc_pay AS p ON p.payment_id = s.payment_id
WHERE s.reason IS NULL AND s.issue_date IS NOT NULL AND s.paid_on > s.issue_date + {{ tol.early_discount_days }}
  AND ({% for pct in tol.early_discount_pct %}{% if not loop.first %} OR {% endif %}abs(s.r - round(s.amount_total * {{ pct }} / 100, 2)) <= {{ tol.discount_slack_abs }}{% endfor %})
  AND NOT EXISTS (SELECT 1 FROM rc_exc AS e WHERE e.payment_id = s.payment_id);
{% endif %}

INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
WITH applied AS (
    SELECT entity, payment_id, sum(amount_applied) AS applied, min(invoice_id) AS invoice_id
    FROM rc_match WHERE state IN ('auto', 'confirmed') GROUP BY entity, payment_id
), left_over AS (
    -- payments with money left beyond the tolerance (few): only theirs are the names looked up
    SELECT p.entity, p.payment_id, p.remaining, p.currency, a.payment_id AS applied_to, a.applied, a.invoice_id
    FROM rc_pay AS p
    LEFT JOIN applied AS a ON a.payment_id = p.payment_id
    WHERE p.status = 'succeeded' AND p.remaining > 0
      AND p.remaining - coalesce(a.applied, 0) > {{ tol.overpayment_ignore_abs }}
), named AS (
    SELECT entity, payment_id, min(invoice_id) AS invoice_id, count(*) AS n FROM rc_cand
    WHERE payment_id IN (SELECT payment_id FROM left_over) GROUP BY entity, payment_id
)
SELECT p.entity, 'overpayment', p.payment_id, coalesce(p.invoice_id, n.invoice_id), NULL, NULL,
       CAST(p.remaining - coalesce(p.applied, 0) AS DECIMAL(18,2)), p.currency,
       CASE WHEN p.applied IS NULL THEN 'the invoice(s) this payment names are already settled; '
            ELSE 'payment exceeds what its invoice(s) still owe; ' END
       || CAST(p.remaining - coalesce(p.applied, 0) AS VARCHAR) || ' ' || p.currency || ' left as customer credit'
FROM left_over AS p
LEFT JOIN named AS n ON n.payment_id = p.payment_id
WHERE (p.applied_to IS NOT NULL OR n.payment_id IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM rc_exc AS e WHERE e.payment_id = p.payment_id);

-- An overpayment's excess paid back to the payer (raised here or by the residue): a debit of exactly it to the
-- account the payment came from, within windows.overpayment_refund_days after it (the first; each debit once, to
-- the latest such payment), not a credit note's refund (int_credit_note_refunds). No customer credit is left: the
-- exception is raised closed naming the debit (bank_line_id), and mart_unapplied_cash counts nothing of it
-- (paid_back_by_payment).
UPDATE rc_exc SET bank_line_id = b.bank_line_id, settled = TRUE,
                  detail = rc_exc.detail || '; paid back to the payer on ' || CAST(b.booking_date AS VARCHAR)
                           || ' (bank line ' || b.bank_line_id || ')'
FROM (
    SELECT payment_id, bank_line_id, booking_date FROM (
        SELECT x.*, row_number() OVER (PARTITION BY x.payment_id ORDER BY x.booking_date, x.bank_line_id) AS rn_p,
                    row_number() OVER (PARTITION BY x.bank_line_id ORDER BY x.paid_on DESC, x.payment_id) AS rn_b
        FROM (
            SELECT e.payment_id, p.paid_on, l.bank_line_id, l.booking_date
            FROM rc_exc AS e
            JOIN rc_pay AS p ON p.payment_id = e.payment_id
            JOIN fct_bank_line AS l
              ON l.entity = :entity AND upper(l.currency) = p.currency AND l.amount = -e.amount
             AND upper(replace(coalesce(l.counterparty_iban, ''), ' ', '')) = p.payer_iban
             AND l.booking_date >= p.paid_on AND l.booking_date <= p.paid_on + {{ overpayment_refund_days }}
            WHERE e.kind = 'overpayment' AND p.payer_iban <> '' AND l.return_reason IS NULL
              AND l.bank_line_id NOT IN (SELECT refund_id FROM int_credit_note_refunds WHERE entity = :entity)
        ) AS x
    ) AS y WHERE rn_p = 1 AND rn_b = 1
) AS b
WHERE rc_exc.kind = 'overpayment' AND rc_exc.payment_id = b.payment_id;

INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
WITH after AS (
    SELECT i.entity, i.invoice_id, i.open0 - coalesce(sum(m.amount_applied + coalesce(m.adjustment, 0)), 0) AS left_open
    FROM rc_inv AS i
    LEFT JOIN rc_match AS m ON m.invoice_id = i.invoice_id AND m.state IN ('auto', 'confirmed')
                           AND m.rule NOT IN {{ netted }}  -- (already off open0)
    WHERE i.doc_type = 'invoice'
      -- only invoices a multi-invoice remittance names
      AND i.invoice_id IN (SELECT c.invoice_id FROM rc_cand AS c
                           JOIN rc_pstat AS s ON s.payment_id = c.payment_id AND s.n_inv > 1)
    GROUP BY i.entity, i.invoice_id, i.open0
)
SELECT c.entity, 'amount_mismatch', c.payment_id, min(c.invoice_id), NULL, NULL,
       CAST(sum(f.left_open) AS DECIMAL(18,2)), min(p.currency),
       'remittance lists ' || CAST(count(*) AS VARCHAR) || ' invoices but pays '
       || CAST(sum(f.left_open) AS VARCHAR) || ' less than they owe; the last ones stay partially paid'
FROM rc_cand AS c
JOIN rc_pstat AS s ON s.payment_id = c.payment_id AND s.n_inv > 1
JOIN rc_pay AS p ON p.payment_id = c.payment_id AND p.status = 'succeeded'
JOIN after AS f ON f.invoice_id = c.invoice_id
WHERE NOT EXISTS (SELECT 1 FROM rc_exc AS e WHERE e.payment_id = c.payment_id)
GROUP BY c.entity, c.payment_id
HAVING sum(CASE WHEN f.left_open > 0 THEN f.left_open ELSE 0 END) > 0;

-- A failed, charged-back or refunded payment is a person's to chase while the invoice it named stays
-- open; once another payment settled that invoice (the customer paid again by transfer), there is
-- nothing left to chase: the exception is raised closed, saying so (64_write_exceptions).
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail, settled,
                    customer_id)
WITH named AS (
    -- the invoice each such payment named
    SELECT c.entity, c.payment_id, min(c.invoice_id) AS invoice_id, min(i.invoice_number) AS invoice_number,
           min(i.customer_id) AS customer_id
    FROM rc_cand AS c JOIN rc_inv AS i ON i.invoice_id = c.invoice_id
    WHERE c.payment_id IN (SELECT payment_id FROM rc_pay WHERE status IN ('charged_back', 'refunded', 'failed'))
    GROUP BY c.entity, c.payment_id
), settled AS (
    SELECT i.invoice_id
    FROM rc_inv AS i
    JOIN rc_match AS m ON m.invoice_id = i.invoice_id AND m.state IN ('auto', 'confirmed')
                      AND m.rule NOT IN {{ netted }}  -- (already off open0)
    WHERE i.doc_type = 'invoice' AND i.invoice_id IN (SELECT invoice_id FROM named)
    GROUP BY i.invoice_id, i.open0
    HAVING i.open0 - sum(m.amount_applied + coalesce(m.adjustment, 0)) <= 0
), unnamed AS (
    -- a failed debit or chargeback that named no invoice (a subscription collection, a payment on account) of a
    -- known customer: it is settled once that customer paid the same amount again, on or after it, and that
    -- payment went in full to the customer's invoices. Paired one to one in date order: two failed collections
    -- of 40.00 are not both settled by one transfer of 40.00.
    SELECT p.payment_id, p.customer_id, p.currency, p.amount, p.paid_on,
           row_number() OVER (PARTITION BY p.customer_id, p.currency, p.amount ORDER BY p.paid_on, p.payment_id) AS rn
    FROM rc_pay AS p
    WHERE p.status IN ('failed', 'charged_back') AND p.customer_id IS NOT NULL
      AND p.payment_id NOT IN (SELECT payment_id FROM named)
), again AS (
    SELECT a.payment_id, a.customer_id, q.currency, a.applied, q.paid_on,
           row_number() OVER (PARTITION BY a.customer_id, q.currency, a.applied ORDER BY q.paid_on, a.payment_id) AS rn
    FROM (
        SELECT m.payment_id, min(i.customer_id) AS customer_id, sum(m.amount_applied + coalesce(m.adjustment, 0)) AS applied
        FROM rc_match AS m JOIN rc_inv AS i ON i.invoice_id = m.invoice_id
        WHERE m.state IN ('auto', 'confirmed') AND m.rule NOT IN {{ netted }} AND i.doc_type = 'invoice'
          AND i.customer_id IN (SELECT customer_id FROM unnamed)
        GROUP BY m.payment_id HAVING min(i.customer_id) = max(i.customer_id)
    ) AS a
    JOIN rc_pay AS q ON q.payment_id = a.payment_id
    WHERE q.status = 'succeeded' AND a.applied >= q.amount
), paid_again AS (
    SELECT u.payment_id, min(g.payment_id) AS by_payment
    FROM unnamed AS u
    JOIN again AS g ON g.customer_id = u.customer_id AND g.currency = u.currency AND g.applied = u.amount
                   AND g.rn = u.rn AND g.paid_on >= u.paid_on
    GROUP BY u.payment_id
)
SELECT p.entity,
       CASE p.status WHEN 'failed' THEN 'failed_debit' WHEN 'charged_back' THEN 'chargeback' ELSE 'refund' END,
       -- (a refunded payment nets to nothing: the exception says what was handed back)
       -- (a bank credit we paid back by transfer keeps its amount in rc_pay: that amount went back)
       p.payment_id, n.invoice_id, NULL, NULL,
       CASE WHEN p.status = 'refunded' AND f.amount > p.amount THEN f.amount - p.amount ELSE p.amount END,
       p.currency,
       -- (a bank credit returned: a direct debit the bank collected (its code names one, IDDT) or a transfer
       -- recalled or sent back by the payer's bank)
       CASE p.status WHEN 'failed' THEN CASE WHEN p.channel = 'bank_transfer' AND coalesce(f.bank_tx_code, '') NOT LIKE '%DDT%'
                                             THEN 'transfer returned by the bank' ELSE 'direct debit failed' END
                     WHEN 'charged_back' THEN 'payment charged back'
                     ELSE 'payment refunded' END
       || coalesce(' (' || f.failure_reason || ')', '')
       || CASE WHEN rcn.cn_id IS NOT NULL THEN '; credit note ' || coalesce(rcn.cn_number, rcn.cn_id) || ' issued for it'
               WHEN st.invoice_id IS NOT NULL THEN '; invoice ' || n.invoice_number || ' since paid'
               WHEN pa.payment_id IS NOT NULL THEN '; the customer paid the same amount since (' || pa.by_payment || ')'
               ELSE coalesce('; invoice ' || n.invoice_number || ' stays open', '') END,
       -- (a refund the ERP answered with its credit note is accounted for: nothing to chase; so is a bank
       -- credit we sent back by transfer, the customer having its money)
       st.invoice_id IS NOT NULL OR pa.payment_id IS NOT NULL OR rcn.cn_id IS NOT NULL OR (p.status = 'refunded' AND p.channel = 'bank_transfer'),
       -- (whose money it was: the payer as known, else the customer of the invoice it named)
       coalesce(p.customer_id, n.customer_id)
FROM rc_pay AS p
JOIN (SELECT q.payment_id, q.failure_reason, q.amount, bl.bank_tx_code
      FROM fct_payment AS q
      LEFT JOIN fct_bank_line AS bl ON bl.entity = q.entity AND bl.bank_line_id = q.payment_id
                                   AND q.channel = 'bank_transfer'
      WHERE q.entity = :entity AND q.status IN ('failed', 'charged_back', 'refunded')) AS f
  ON f.payment_id = p.payment_id
LEFT JOIN named AS n ON n.payment_id = p.payment_id
LEFT JOIN settled AS st ON st.invoice_id = n.invoice_id
LEFT JOIN paid_again AS pa ON pa.payment_id = p.payment_id
LEFT JOIN (SELECT r.payment_id, r.cn_id, r.cn_number FROM rc_refund_cn AS r
           WHERE r.cn_id IN (SELECT payment_id FROM rc_match WHERE rule = 'credit_note')) AS rcn
       ON p.status = 'refunded' AND rcn.payment_id = p.payment_id
-- (a declined card moved no money and was not counted on; a Stripe bank debit that failed was: failure_reason
-- names its method, stg_stripe__payments)
WHERE p.status IN ('charged_back', 'refunded')
   OR (p.status = 'failed' AND (p.channel <> 'stripe' OR f.failure_reason LIKE '%debit: %'
                                OR f.failure_reason LIKE 'us_bank_account: %'));

{% if refunds %}
-- A refund that failed and came back (Stripe's refund_failure, GoCardless's refund_funds_returned): the payment
-- counts whole again (10_inputs nets the two), and the customer is still owed what the refund was to hand back
-- (its credit note stays open): a person pays it another way.
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT p.entity, 'refund', p.payment_id, NULL, NULL, NULL, CAST(f.back AS DECIMAL(18,2)), p.currency,
       'refund of ' || CAST(CAST(f.back AS DECIMAL(18,2)) AS VARCHAR) || ' ' || p.currency
       || ' failed and the money came back: the customer is still owed it'
FROM rc_pay AS p
JOIN (SELECT payment_id, sum(amount) AS back FROM fct_payout_component
      WHERE entity = :entity AND kind IN {{ refund_kinds(came_back=True) }} AND payment_id IS NOT NULL
      GROUP BY payment_id HAVING sum(amount) > 0) AS f ON f.payment_id = p.payment_id
WHERE NOT EXISTS (SELECT 1 FROM rc_exc AS e WHERE e.payment_id = p.payment_id AND e.kind = 'refund');

{% endif %}
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT b.entity, 'failed_debit', NULL, NULL, NULL, b.bank_line_id, b.amount, upper(b.currency),
       'returned on the bank statement (' || coalesce(b.return_reason, 'no reason') || '): '
       || coalesce(b.remittance, b.counterparty_name, '')
FROM fct_bank_line AS b
WHERE b.return_reason IS NOT NULL AND b.amount < 0 AND b.entity = :entity
  -- a return paired with the credit it sends back is that payment's failed_debit (above)
  AND b.bank_line_id NOT IN (SELECT return_line_id FROM ({{ bank_returns('fct_bank_line') }}) AS r
                             WHERE r.entity = :entity);

INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT p.entity, 'payout_mismatch', NULL, NULL, p.payout_id, p.bank_line_id,
       CAST(p.amount - c.net AS DECIMAL(18,2)), upper(p.currency),
       'payout of ' || CAST(p.amount AS VARCHAR) || ' but its ' || CAST(c.n AS VARCHAR)
       || ' components net ' || CAST(c.net AS VARCHAR)
FROM fct_payout AS p
JOIN (
    SELECT entity, payout_id, sum(amount - coalesce(fee, 0)) AS net, count(*) AS n
    FROM fct_payout_component GROUP BY entity, payout_id
) AS c ON c.entity = p.entity AND c.payout_id = p.payout_id
WHERE p.amount <> c.net AND p.entity = :entity;

INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT p.entity, 'payout_not_banked', NULL, NULL, p.payout_id, NULL, p.amount, upper(p.currency),
       'payout paid on ' || CAST(p.arrival_date AS VARCHAR) || ' not found on the bank statement after '
       || CAST({{ payout_days }} AS VARCHAR) || ' days'
FROM fct_payout AS p
WHERE p.bank_line_id IS NULL AND p.status = 'paid' AND p.amount > 0
  AND p.arrival_date + {{ payout_days }} < CAST(:as_of AS DATE) AND p.entity = :entity
  -- (a payout that arrived before the first statement loaded cannot be on one)
  AND p.arrival_date >= coalesce((SELECT min(b.booking_date) FROM fct_bank_line AS b WHERE b.entity = :entity),
                                 p.arrival_date);
