-- Reference candidates: payment tokens meeting invoice keys of the same kind.
-- Per token only its strongest kind counts; a token that fits several invoices
-- keeps those of the payer's own customer, else it makes the payment ambiguous.
-- Kind by kind, strongest first: only the strongest kind a token hits counts, so a token
-- that already hit is not looked up again with weaker keys (most hit the exact number).
DROP TABLE IF EXISTS rc_hit;
{% set enabled = kinds.split(', ') %}
CREATE TEMP TABLE rc_hit AS
SELECT t.entity, t.payment_id, t.token, t.kind, k.invoice_id,
       CASE WHEN k.customer_id = p.customer_id THEN 1 ELSE 0 END AS same_cust
FROM rc_tok AS t
JOIN reconcile_invoice_key AS k ON k.entity = t.entity AND k.kind = t.kind AND k.k = t.k
JOIN rc_pay AS p ON p.entity = t.entity AND p.payment_id = t.payment_id
WHERE k.currency = p.currency
  AND t.kind = 1 AND '1' IN ('{{ enabled | join("', '") }}')
  AND (t.kind < 4 OR k.customer_id = p.customer_id)
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS r
                  WHERE r.entity = t.entity AND r.payment_id = t.payment_id AND r.invoice_id = k.invoice_id);
{% for kind in ['2', '3', '4'] if kind in enabled %}
INSERT INTO rc_hit (entity, payment_id, token, kind, invoice_id, same_cust)
SELECT t.entity, t.payment_id, t.token, t.kind, k.invoice_id,
       CASE WHEN k.customer_id = p.customer_id THEN 1 ELSE 0 END AS same_cust
FROM rc_tok AS t
JOIN reconcile_invoice_key AS k ON k.entity = t.entity AND k.kind = t.kind AND k.k = t.k
JOIN rc_pay AS p ON p.entity = t.entity AND p.payment_id = t.payment_id
WHERE k.currency = p.currency
  AND t.kind = {{ kind }}
  AND (t.kind < 4 OR k.customer_id = p.customer_id)
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS r
                  WHERE r.entity = t.entity AND r.payment_id = t.payment_id AND r.invoice_id = k.invoice_id)
  AND NOT EXISTS (SELECT 1 FROM rc_hit AS h WHERE h.entity = t.entity AND h.payment_id = t.payment_id
                  AND h.token = t.token);
{% endfor %}

-- (grouped aggregates rather than window functions: the same result, a fraction of the cost at volume)
DROP TABLE IF EXISTS rc_cand;
CREATE TEMP TABLE rc_cand AS
WITH best AS (
    SELECT entity, payment_id, token, min(kind) AS best_kind FROM rc_hit GROUP BY entity, payment_id, token
), top AS (
    SELECT h.entity, h.payment_id, h.token, h.kind, h.invoice_id, h.same_cust
    FROM rc_hit AS h
    JOIN best AS b ON b.entity = h.entity AND b.payment_id = h.payment_id AND b.token = h.token
                  AND b.best_kind = h.kind
), agg AS (
    SELECT entity, payment_id, token, max(same_cust) AS any_same, count(*) AS n_all, sum(same_cust) AS n_same
    FROM top GROUP BY entity, payment_id, token
), kept AS (
    SELECT t.entity, t.payment_id, t.token, t.kind, t.invoice_id,
           CASE WHEN a.any_same = 1 THEN a.n_same ELSE a.n_all END AS n_key
    FROM top AS t
    JOIN agg AS a ON a.entity = t.entity AND a.payment_id = t.payment_id AND a.token = t.token
    WHERE t.same_cust = 1 OR a.any_same = 0
)
SELECT entity, payment_id, invoice_id, min(kind) AS kind, max(n_key) AS n_key, min(token) AS token
FROM kept
GROUP BY entity, payment_id, invoice_id;
{% if incremental %}
-- the invoices the scope's references name join the (partial) book of this run
DELETE FROM rc_inv_need;
INSERT INTO rc_inv_need (invoice_id)
SELECT DISTINCT c.invoice_id FROM rc_cand AS c WHERE NOT EXISTS (SELECT 1 FROM rc_inv AS r WHERE r.invoice_id = c.invoice_id);
INSERT INTO rc_inv
{{ invoice_rows("SELECT invoice_id FROM rc_inv_need") }};
{% endif %}
-- work tables are held in memory: free what later steps do not read
DROP TABLE IF EXISTS rc_hit;
DROP TABLE IF EXISTS rc_tok;

-- Payers the book already knows. A bank account whose remittances named an invoice of
-- one customer with exactly the amount owed (this run, or kept matches of earlier runs in
-- an incremental one) pays for that customer: a parent company, a factor, a shared
-- service centre. Its other payments are then judged with that customer, as a credit
-- controller who recognises the payer would. An account seen paying for two customers
-- teaches nothing.
{% if incremental %}
-- the unknown payers' accounts first, materialised: a few payments, not the whole history (inline,
-- DuckDB joined every payment with every match before filtering them)
DROP TABLE IF EXISTS rc_payer_f;
CREATE TEMP TABLE rc_payer_f AS
SELECT entity, payment_id, upper(replace(payer_iban, ' ', '')) AS iban FROM fct_payment
WHERE entity = :entity
  AND upper(replace(payer_iban, ' ', '')) IN (SELECT payer_iban FROM rc_pay WHERE customer_id IS NULL AND payer_iban <> '');
{% endif %}
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
    SELECT m.entity, f.iban, i.customer_id
    FROM rc_payer_f AS f
    JOIN fct_match AS m ON m.entity = f.entity AND m.payment_id = f.payment_id
    JOIN {{ invoices_table }} AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
    WHERE m.entity = :entity AND m.state IN ('auto', 'confirmed')
      AND m.rule IN ('exact_reference', 'normalized_reference') AND m.amount_applied = i.amount_total
    {% endif %}
)
SELECT entity, payer_iban, min(customer_id) AS customer_id
FROM seen GROUP BY entity, payer_iban HAVING count(DISTINCT customer_id) = 1;

UPDATE rc_pay SET customer_id = r.customer_id, customer_via = 'payer_history'
FROM rc_payer AS r
WHERE r.entity = rc_pay.entity AND r.payer_iban = rc_pay.payer_iban AND rc_pay.customer_id IS NULL;
