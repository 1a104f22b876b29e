-- Reference candidates: payment tokens meeting invoice keys of the same kind.
-- Per token only its strongest kind counts; a token that fits several invoices
-- keeps those of the payer's own customer, else it makes the payment ambiguous.
DROP TABLE IF EXISTS rc_hit;
CREATE TEMP TABLE rc_hit AS
SELECT t.entity, t.payment_id, t.token, t.kind, k.invoice_id,
       CASE WHEN k.customer_id = p.customer_id THEN 1 ELSE 0 END AS same_cust
FROM rc_tok AS t
JOIN rc_inv_key AS k ON k.entity = t.entity AND k.kind = t.kind AND k.k = t.k
JOIN rc_pay AS p ON p.entity = t.entity AND p.payment_id = t.payment_id
WHERE k.currency = p.currency
  AND t.kind IN ({{ kinds }})
  AND (t.kind < 4 OR k.customer_id = p.customer_id)
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS r
                  WHERE r.entity = t.entity AND r.payment_id = t.payment_id AND r.invoice_id = k.invoice_id);

DROP TABLE IF EXISTS rc_cand;
CREATE TEMP TABLE rc_cand AS
WITH best AS (
    SELECT h.*,
           min(kind) OVER (PARTITION BY entity, payment_id, token) AS best_kind,
           max(same_cust) OVER (PARTITION BY entity, payment_id, token, kind) AS any_same
    FROM rc_hit AS h
), kept AS (
    SELECT entity, payment_id, token, kind, invoice_id
    FROM best WHERE kind = best_kind AND (same_cust = 1 OR any_same = 0)
), counted AS (
    SELECT kept.*, count(*) OVER (PARTITION BY entity, payment_id, token) AS n_key
    FROM kept
)
SELECT entity, payment_id, invoice_id, min(kind) AS kind, max(n_key) AS n_key,
       min(token) AS token
FROM counted
GROUP BY entity, payment_id, invoice_id;

-- Payers the book already knows. A bank account whose remittances named an invoice of
-- one customer with exactly the amount owed (this run, or kept matches of earlier runs in
-- an incremental one) pays for that customer: a parent company, a factor, a shared
-- service centre. Its other payments are then judged with that customer, as a credit
-- controller who recognises the payer would. An account seen paying for two customers
-- teaches nothing.
DROP TABLE IF EXISTS rc_payer;
CREATE TEMP TABLE rc_payer AS
WITH seen AS (
    SELECT p.entity, p.payer_iban, i.customer_id
    FROM rc_cand AS c
    JOIN rc_pay AS p ON p.entity = c.entity AND p.payment_id = c.payment_id
    JOIN rc_inv AS i ON i.entity = c.entity AND i.invoice_id = c.invoice_id
    WHERE p.payer_iban <> '' AND p.status = 'succeeded' AND c.kind <= 2 AND c.n_key = 1
      AND p.remaining = i.open0 AND i.doc_type = 'invoice'
      AND NOT EXISTS (SELECT 1 FROM rc_cand AS o WHERE o.entity = c.entity AND o.payment_id = c.payment_id
                      AND o.invoice_id <> c.invoice_id)
    {% if incremental %}
    UNION ALL
    SELECT m.entity, upper(replace(f.payer_iban, ' ', '')), i.customer_id
    FROM fct_match AS m
    JOIN fct_payment AS f ON f.entity = m.entity AND f.payment_id = m.payment_id
    JOIN {{ invoices_table }} AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
    WHERE m.entity = :entity AND m.state IN ('auto', 'confirmed')
      AND m.rule IN ('exact_reference', 'normalized_reference') AND m.amount_applied = i.amount_total
      AND upper(replace(f.payer_iban, ' ', '')) IN (SELECT payer_iban FROM rc_pay WHERE customer_id IS NULL AND payer_iban <> '')
    {% endif %}
)
SELECT entity, payer_iban, min(customer_id) AS customer_id
FROM seen GROUP BY entity, payer_iban HAVING count(DISTINCT customer_id) = 1;

UPDATE rc_pay SET customer_id = r.customer_id, customer_via = 'payer_history'
FROM rc_payer AS r
WHERE r.entity = rc_pay.entity AND r.payer_iban = rc_pay.payer_iban AND rc_pay.customer_id IS NULL;
