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
