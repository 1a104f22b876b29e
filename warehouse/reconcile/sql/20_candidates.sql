-- Reference candidates: payment tokens meeting invoice keys of the same kind.
-- Per token only its strongest kind counts; a token that fits several invoices
-- keeps those of the payer's own customer, else it makes the payment ambiguous.
-- Kind by kind, strongest first: a token that hit is not looked up again with weaker keys,
-- and those keys are computed only for the tokens that missed the exact number (most hit it),
-- so each token's hits are all of one kind.
{% set enabled = kinds.split(', ') %}
DROP TABLE IF EXISTS rc_hit;
CREATE TEMP TABLE rc_hit AS
SELECT t.entity, t.payment_id, t.token, 1 AS kind, k.invoice_id,
       CASE WHEN k.customer_id = t.customer_id THEN 1 ELSE 0 END AS same_cust
FROM rc_tok AS t
JOIN reconcile_invoice_key AS k ON k.k1 = t.token
WHERE k.entity = :entity AND k.currency = t.currency AND '1' IN ('{{ enabled | join("', '") }}')
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS r WHERE r.payment_id = t.payment_id AND r.invoice_id = k.invoice_id);
-- (temporary tables get no statistics but these: the weaker kinds' "NOT EXISTS rc_hit" was planned for an
-- empty rc_hit and nested-looped 70,000 tokens over 63,000 hits, 90 s at 94,000 payments)
{{ analyze('rc_hit') }}

DROP TABLE IF EXISTS rc_tok_k;
CREATE TEMP TABLE rc_tok_k AS
WITH s AS (
    SELECT t.entity, t.payment_id, t.currency, t.customer_id, t.token, {{ strip_prefix('t.token') }} AS stripped
    FROM rc_tok AS t
    WHERE NOT EXISTS (SELECT 1 FROM rc_hit AS h WHERE h.payment_id = t.payment_id AND h.token = t.token)
), d AS (
    SELECT entity, payment_id, currency, customer_id, token, stripped, {{ k_dashed('stripped') }} AS dashed FROM s
), k AS (
    -- a tail key only for a bare number
    SELECT entity, payment_id, currency, customer_id, token, {{ k_norm_of_dashed('dashed') }} AS k2,
           {{ k_groups_of_dashed('dashed') }} AS k3,
           CASE WHEN stripped <> '' AND ltrim(stripped, '0123456789') = '' THEN ltrim(stripped, '0') END AS k4
    FROM d
)
SELECT entity, payment_id, currency, customer_id, token,
       CASE WHEN length(k2) >= {{ min_len }} THEN k2 END AS k2,
       CASE WHEN k3 LIKE '%-%' THEN k3 END AS k3,
       CASE WHEN length(k4) >= {{ min_tail }} THEN k4 END AS k4
FROM k;
{{ analyze('rc_tok_k') }}
{% for kind in ['2', '3', '4'] if kind in enabled %}
INSERT INTO rc_hit (entity, payment_id, token, kind, invoice_id, same_cust)
SELECT t.entity, t.payment_id, t.token, {{ kind }}, k.invoice_id,
       CASE WHEN k.customer_id = t.customer_id THEN 1 ELSE 0 END AS same_cust
FROM rc_tok_k AS t
JOIN reconcile_invoice_key AS k ON k.k{{ kind }} = t.k{{ kind }}
WHERE k.entity = :entity AND k.currency = t.currency
  {% if kind == '4' %}AND k.customer_id = t.customer_id{% endif %}
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS r WHERE r.payment_id = t.payment_id AND r.invoice_id = k.invoice_id)
  AND NOT EXISTS (SELECT 1 FROM rc_hit AS h WHERE h.payment_id = t.payment_id AND h.token = t.token);
{% endfor %}
{% if '4' in enabled %}
-- A digit group read as the tail of a number is not one when it is part of a group that named an invoice: in
-- "REF FA 2025 004142" the groups joined (2025-004142) name FA-2025-004142, and the year alone is no tail of
-- FA-2025-002025 (it took 12,055.02 of the payment so).
DELETE FROM rc_hit
WHERE kind = 4 AND EXISTS (
    SELECT 1 FROM rc_hit AS g
    WHERE g.payment_id = rc_hit.payment_id AND g.kind < 4 AND g.token <> rc_hit.token
      AND '-' || g.token || '-' LIKE '%-' || rc_hit.token || '-%');
{% endif %}
{% if '5' in enabled %}
-- Kind 5, last: a token that named no invoice number may be another number the ERP keeps for one
-- (its SAP document number, a QR reference in the assignment), exact or normalized.
INSERT INTO rc_hit (entity, payment_id, token, kind, invoice_id, same_cust)
SELECT DISTINCT h.entity, h.payment_id, h.token, 5, h.invoice_id, h.same_cust
FROM (
    SELECT t.entity, t.payment_id, t.token, t.currency, k.currency AS k_currency, k.invoice_id,
           CASE WHEN k.customer_id = t.customer_id THEN 1 ELSE 0 END AS same_cust
    FROM rc_tok_k AS t JOIN reconcile_invoice_alias_key AS k ON k.k1 = t.token
    WHERE k.entity = :entity
    UNION ALL
    SELECT t.entity, t.payment_id, t.token, t.currency, k.currency, k.invoice_id,
           CASE WHEN k.customer_id = t.customer_id THEN 1 ELSE 0 END
    FROM rc_tok_k AS t JOIN reconcile_invoice_alias_key AS k ON k.k2 = t.k2
    WHERE k.entity = :entity
) AS h
WHERE h.k_currency = h.currency
  AND NOT EXISTS (SELECT 1 FROM rc_blocked AS r WHERE r.payment_id = h.payment_id AND r.invoice_id = h.invoice_id)
  AND NOT EXISTS (SELECT 1 FROM rc_hit AS x WHERE x.payment_id = h.payment_id AND x.token = h.token);
{% endif %}

{% if credit_note_words %}
-- A number written after a credit-note word ("AL NETTO NS NC 2025/008") names a credit note: its hits on
-- invoices go (it may equal another customer's invoice number, 2025/0008). Only references holding
-- such a word are read (a plain search first).
DROP TABLE IF EXISTS rc_tok_cn;
CREATE TEMP TABLE rc_tok_cn AS
SELECT DISTINCT payment_id, token
FROM (
    SELECT payment_id, trim(both '/._-' from {{ credit_note_tokens('ref') }}) AS token
    FROM (SELECT payment_id, upper(coalesce(reference, '')) AS ref FROM rc_pay) AS r
    WHERE {{ may_name_credit_note('ref') }}
) AS t
WHERE token <> '';

DELETE FROM rc_hit
WHERE EXISTS (SELECT 1 FROM rc_tok_cn AS c WHERE c.payment_id = rc_hit.payment_id AND c.token = rc_hit.token)
  AND invoice_id IN (SELECT i.invoice_id FROM {{ invoices_table }} AS i
                     WHERE i.entity = :entity AND i.doc_type = 'invoice'
                       AND i.invoice_id IN (SELECT h.invoice_id FROM rc_hit AS h
                                            JOIN rc_tok_cn AS c ON c.payment_id = h.payment_id AND c.token = h.token));
DROP TABLE IF EXISTS rc_tok_cn;
{% endif %}

-- (grouped aggregates rather than window functions: the same result, a fraction of the cost at volume;
-- a token's hits are of one kind, its strongest, so no "best kind" pass is needed)
DROP TABLE IF EXISTS rc_cand;
CREATE TEMP TABLE rc_cand AS
WITH agg AS (
    SELECT entity, payment_id, token, max(same_cust) AS any_same, count(*) AS n_all, sum(same_cust) AS n_same
    FROM rc_hit GROUP BY entity, payment_id, token
)
SELECT h.entity, h.payment_id, h.invoice_id, min(h.kind) AS kind,
       max(CASE WHEN a.any_same = 1 THEN a.n_same ELSE a.n_all END) AS n_key, min(h.token) AS token
FROM rc_hit AS h
JOIN agg AS a ON a.payment_id = h.payment_id AND a.token = h.token
WHERE h.same_cust = 1 OR a.any_same = 0
GROUP BY h.entity, h.payment_id, h.invoice_id;
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
DROP TABLE IF EXISTS rc_tok_k;

-- Payers the book already knows. A bank account whose remittances named an invoice of
-- one customer with exactly the amount owed (this run, or kept matches of earlier runs in
-- an incremental one) pays for that customer: a parent company, a factor, a shared
-- service centre. Its other payments are then judged with that customer, as a credit
-- controller who recognises the payer would. An account seen paying for two customers
-- (in two remittances or in one) teaches nothing.
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
WITH named AS (
    -- the customers whose invoices each remittance from a known account names by a strong reference
    SELECT p.entity, p.payer_iban, c.payment_id, i.customer_id
    FROM rc_cand AS c
    JOIN rc_pay AS p ON p.payment_id = c.payment_id
    JOIN rc_inv AS i ON i.invoice_id = c.invoice_id
    WHERE p.payer_iban <> '' AND p.status = 'succeeded' AND c.kind <= 2 AND c.n_key = 1 AND i.doc_type = 'invoice'
), seen AS (
    SELECT p.entity, p.payer_iban, i.customer_id
    FROM rc_cand AS c
    JOIN rc_pay AS p ON p.payment_id = c.payment_id
    JOIN rc_inv AS i ON i.invoice_id = c.invoice_id
    WHERE p.payer_iban <> '' AND p.status = 'succeeded' AND c.kind <= 2 AND c.n_key = 1
      AND p.remaining = i.open0 AND i.doc_type = 'invoice'
      AND NOT EXISTS (SELECT 1 FROM rc_cand AS o WHERE o.payment_id = c.payment_id AND o.invoice_id <> c.invoice_id)
    UNION ALL
    -- a remittance naming invoices of two customers (a parent paying for both subsidiaries in one transfer): the
    -- account pays for both, so it teaches neither (each customer counts below)
    SELECT entity, payer_iban, customer_id FROM named
    WHERE payment_id IN (SELECT payment_id FROM named GROUP BY payment_id HAVING min(customer_id) <> max(customer_id))
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
WHERE r.payer_iban = rc_pay.payer_iban AND rc_pay.customer_id IS NULL;
