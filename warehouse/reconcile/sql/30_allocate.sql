-- Set-based allocation of reference matches, the bulk of every run.
-- * a payment naming one invoice: payments of that invoice in date order each take
--   what is still open (several partial payments each get a match);
-- * a payment naming several invoices that no other payment names: credit notes
--   netted first, then invoices by due date until the money runs out.
-- Payments whose invoices are shared with a multi-invoice payment, ambiguous ones,
-- and those naming implausibly many invoices go to the Python residue.
DROP TABLE IF EXISTS rc_pstat;
CREATE TEMP TABLE rc_pstat AS
SELECT entity, payment_id, count(*) AS n_inv, max(n_key) AS n_key
FROM rc_cand GROUP BY entity, payment_id;
{{ analyze('rc_pstat') }}

DROP TABLE IF EXISTS rc_alloc_all;
CREATE TEMP TABLE rc_alloc_all AS
SELECT c.entity, c.payment_id, c.invoice_id, c.kind, c.token, s.n_inv, p.paid_on, p.remaining, p.currency,
       i.open0, i.due_date, i.doc_type, i.invoice_number, i.issue_date, i.amount_total,
       CASE WHEN p.customer_id IS NOT NULL AND i.customer_id = p.customer_id THEN 1 ELSE 0 END AS same_cust,
       CASE WHEN p.customer_id IS NOT NULL THEN 1 ELSE 0 END AS known
FROM rc_cand AS c
JOIN rc_pstat AS s ON s.payment_id = c.payment_id
JOIN rc_pay AS p ON p.payment_id = c.payment_id
JOIN rc_inv AS i ON i.invoice_id = c.invoice_id
WHERE p.status = 'succeeded' AND p.remaining > 0 AND s.n_key = 1 AND s.n_inv <= {{ max_inv }};
{{ analyze('rc_alloc_all') }}

-- Corroboration: a reference alone never auto-applies. A remittance is trusted when the
-- amount meets what the named invoices still owe (exactly or within the short-payment
-- tolerances; also a parent company paying for its subsidiary), or when it is a partial
-- payment (less than owed) from a payer we cannot identify. A known payer naming another
-- customer's invoices with another amount, or an unknown payer paying more than owed, is
-- not trusted: typically a typo that happens to be another valid number. It goes to the
-- residue, which looks for the invoice the payer really meant, else suggests.
DROP TABLE IF EXISTS rc_corr;
CREATE TEMP TABLE rc_corr AS
SELECT entity, payment_id, min(same_cust) AS all_same, max(known) AS known, sum(open0) AS owed,
       max(remaining) AS remaining,
       sum(amount_total) AS total, max(issue_date) AS issued, max(paid_on) AS paid_on
FROM rc_alloc_all GROUP BY entity, payment_id;
{{ analyze('rc_corr') }}

-- same_cust = 1: the payer's own invoices but another amount (partial, over- or short
-- payment, or a typo naming another of its invoices): the residue first looks for an
-- invoice one typo away that owes exactly the amount, else applies the reference.
-- An unknown payer paying less is trusted as a partial payment unless its name, as written, is
-- exactly one customer's (letter case aside) and that customer owns none of the named invoices:
-- then it is that customer typing another customer's number, and the residue looks among its own
-- invoices for the one a typo away. (Case only: a regular expression over every customer's name
-- cost ~70 ms of a 1M-payment incremental run; names written otherwise are the residue's job.)
{% macro plain_name(col) -%}
upper(trim(coalesce({{ col }}, '')))
{%- endmacro %}
DROP TABLE IF EXISTS rc_uncorr;
CREATE TEMP TABLE rc_uncorr AS
WITH partial_unknown AS (
    SELECT c.payment_id, {{ plain_name('p.payer_name') }} AS payer
    FROM rc_corr AS c JOIN rc_pay AS p ON p.payment_id = c.payment_id
    WHERE c.known = 0 AND c.remaining < c.owed AND p.payer_name IS NOT NULL
), named AS (
    SELECT u.payment_id, n.customer_id
    FROM partial_unknown AS u
    JOIN (
        SELECT {{ plain_name('name') }} AS plain, min(customer_id) AS customer_id FROM dim_customer
        WHERE entity = :entity AND name IS NOT NULL AND customer_id IS NOT NULL
          AND {{ plain_name('name') }} IN (SELECT payer FROM partial_unknown)
        GROUP BY {{ plain_name('name') }} HAVING min(customer_id) = max(customer_id)
    ) AS n ON n.plain = u.payer
    WHERE u.payer <> ''
      AND NOT EXISTS (SELECT 1 FROM rc_alloc_all AS a JOIN rc_inv AS i ON i.invoice_id = a.invoice_id
                      WHERE a.payment_id = u.payment_id AND i.customer_id = n.customer_id)
)
SELECT entity, payment_id, CASE WHEN all_same = 1 AND owed > 0 THEN 1 ELSE 0 END AS same_cust FROM rc_corr
WHERE NOT (remaining = owed OR {{ within_tolerance('owed - remaining', 'total', 'paid_on', 'issued') }}
           OR (known = 0 AND remaining < owed AND payment_id NOT IN (SELECT payment_id FROM named)));
{{ analyze('rc_uncorr') }}

-- rc_alloc_all becomes rc_alloc by moving the (few) uncorroborated rows out, rather than
-- copying the (many) corroborated ones: rc_alloc_x keeps the moved rows for rc_complex.
DROP TABLE IF EXISTS rc_alloc_x;
CREATE TEMP TABLE rc_alloc_x AS
SELECT a.* FROM rc_alloc_all AS a
WHERE EXISTS (SELECT 1 FROM rc_uncorr AS u WHERE u.payment_id = a.payment_id);

DELETE FROM rc_alloc_all
WHERE EXISTS (SELECT 1 FROM rc_uncorr AS u WHERE u.payment_id = rc_alloc_all.payment_id);

DROP TABLE IF EXISTS rc_alloc;
ALTER TABLE rc_alloc_all RENAME TO rc_alloc;
{{ analyze('rc_alloc') }}

DROP TABLE IF EXISTS rc_complex;
-- (deducts = 1: sent to the residue only for a credit note it may have deducted, see the last branch)
CREATE TEMP TABLE rc_complex AS
WITH inv AS (
    SELECT invoice_id, count(*) AS n_pay, max(n_inv) AS max_inv FROM rc_alloc GROUP BY invoice_id
), why AS (
SELECT a.entity, a.payment_id, 0 AS deducts
FROM rc_alloc AS a JOIN inv ON inv.invoice_id = a.invoice_id
WHERE inv.n_pay > 1 AND inv.max_inv > 1
UNION ALL
-- invoices also named by a payer's own payment the residue re-examines: keep date order there
SELECT a.entity, a.payment_id, 0
FROM rc_alloc AS a
JOIN rc_alloc_x AS x ON x.invoice_id = a.invoice_id
JOIN rc_uncorr AS u ON u.payment_id = x.payment_id AND u.same_cust = 1
{% if loose_credit_notes %}
UNION ALL
-- an unknown payer paying the one invoice it names, alone, less exactly an unlettered credit note of
-- that customer: the payer deducted it without naming it ("FA-38", 2,748.89 for 3,597.47 with AV-2 of
-- 843.37 open). Applied here it would leave both documents open (+843.37 / -843.37); the residue nets
-- the credit note in the payment when it is the only one that fits (residue._deducted_credit_notes).
SELECT a.entity, a.payment_id, 1
FROM rc_alloc AS a
JOIN rc_inv AS i ON i.invoice_id = a.invoice_id
WHERE a.n_inv = 1 AND a.known = 0 AND a.doc_type = 'invoice' AND a.remaining < a.open0
  AND a.invoice_id NOT IN (SELECT invoice_id FROM rc_alloc GROUP BY invoice_id HAVING count(*) > 1)
  AND EXISTS (SELECT 1 FROM {{ invoices_table }} AS c
              WHERE c.entity = :entity AND c.customer_id = i.customer_id AND c.doc_type = 'credit_note'
                AND upper(c.currency) = a.currency AND c.amount_total = a.remaining - a.open0
                AND coalesce(c.erp_lettrage, '') = '')
UNION ALL
-- a payment listing several invoices, no other payment naming them, short of their total by exactly an unlettered
-- credit note of their customers' ("FA012685 FA012505", a parent paying two subsidiaries, one of which deducted its
-- credit note): the residue nets it in the payment, as for one invoice
SELECT s.entity, s.payment_id, 1
FROM (
    SELECT a.entity, a.payment_id, min(a.remaining) AS remaining, sum(a.open0) AS owed, min(a.currency) AS currency
    FROM rc_alloc AS a
    WHERE a.n_inv > 1
    GROUP BY a.entity, a.payment_id
    HAVING min(CASE WHEN a.doc_type = 'invoice' AND a.open0 > 0 THEN 1 ELSE 0 END) = 1
) AS s
WHERE s.remaining < s.owed
  AND NOT EXISTS (SELECT 1 FROM rc_alloc AS a JOIN rc_alloc AS o ON o.invoice_id = a.invoice_id
                  AND o.payment_id <> a.payment_id WHERE a.payment_id = s.payment_id)
  AND EXISTS (SELECT 1 FROM rc_alloc AS a
              JOIN rc_inv AS i ON i.invoice_id = a.invoice_id
              JOIN {{ invoices_table }} AS c ON c.entity = :entity AND c.customer_id = i.customer_id
               AND c.doc_type = 'credit_note' AND upper(c.currency) = s.currency
               AND c.amount_total = s.remaining - s.owed AND coalesce(c.erp_lettrage, '') = ''
              WHERE a.payment_id = s.payment_id)
{% endif %}
)
SELECT entity, payment_id, min(deducts) AS deducts FROM why GROUP BY entity, payment_id;
{{ analyze('rc_complex') }}

INSERT INTO rc_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                      currency, rule, confidence, explanation, state, paid_on)
WITH single_in AS (
    SELECT a.*,
           a.open0 - coalesce(sum(a.remaining) OVER (PARTITION BY a.invoice_id ORDER BY a.paid_on, a.payment_id
                                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS open_before,
           lag(a.paid_on) OVER (PARTITION BY a.invoice_id ORDER BY a.paid_on, a.payment_id) AS earlier_paid_on
    FROM rc_alloc AS a
    WHERE a.n_inv = 1
      AND NOT EXISTS (SELECT 1 FROM rc_complex AS x WHERE x.payment_id = a.payment_id)
), single AS (
    -- An earlier payment left the invoice short by what the tolerances close (an early-payment discount taken in
    -- time, bank charges): that payment settled it (40_adjust says why). A later payment of more than the
    -- remainder is not a top-up but a duplicate or another debt: it takes nothing here and stays the customer's
    -- money, as it would in the incremental run of the day it arrives (the invoice then owes nothing).
    SELECT s.*,
           CASE WHEN s.earlier_paid_on IS NOT NULL AND s.remaining > s.open_before
                     AND {{ within_tolerance('s.open_before', 's.amount_total', 's.earlier_paid_on', 's.issue_date') }}
                THEN 0 ELSE greatest(0, least(s.remaining, s.open_before)) END AS applied
    FROM single_in AS s
), multi_in AS (
    SELECT a.*,
           sum(CASE WHEN a.open0 > 0 THEN a.amount_total ELSE 0 END) OVER (PARTITION BY a.payment_id) AS billed,
           sum(a.open0) OVER (PARTITION BY a.payment_id) AS owed_net,
           min(a.issue_date) OVER (PARTITION BY a.payment_id) AS issued_first
    FROM rc_alloc AS a
    WHERE a.n_inv > 1
      AND NOT EXISTS (SELECT 1 FROM rc_complex AS x WHERE x.payment_id = a.payment_id)
), multi_d AS (
    -- A remittance listing several invoices, short by exactly an early-payment discount of their
    -- total and in time for all of them ("RE 1337 1338 ./. 2% SKONTO"): the discount is taken on
    -- each invoice (40_adjust explains each), not all of it on the last one. The last invoice takes
    -- the cents the per-invoice rounding leaves, so exactly the money received is applied.
    SELECT m.*,
           CASE WHEN m.open0 > 0 THEN m.open0 - round(m.amount_total * m.pct / 100, 2) ELSE m.open0 END AS net_i,
           row_number() OVER (PARTITION BY m.payment_id ORDER BY CASE WHEN m.open0 > 0 THEN 0 ELSE 1 END,
                              m.due_date DESC, m.invoice_id DESC) AS rn_last
    FROM (
        SELECT i.*,
               {% if tol.early_discount_pct %}CASE
               {% for pct in tol.early_discount_pct %}
               WHEN i.owed_net > i.remaining AND i.paid_on <= i.issued_first + {{ tol.early_discount_days }}
                    AND abs((i.owed_net - i.remaining) - round(i.billed * {{ pct }} / 100, 2)) <= {{ tol.discount_slack_abs }}
                   THEN {{ pct }}
               {% endfor %} END{% else %}CAST(NULL AS DECIMAL(9,4)){% endif %} AS pct
        FROM multi_in AS i
    ) AS m
), multi AS (
    SELECT d.*,
           CASE WHEN d.pct IS NOT NULL
                THEN d.net_i + CASE WHEN d.rn_last = 1
                                    THEN d.remaining - sum(d.net_i) OVER (PARTITION BY d.payment_id) ELSE 0 END
                WHEN d.open0 < 0 THEN d.open0
                ELSE greatest(0, least(d.open0, d.remaining - coalesce(sum(d.open0) OVER (
                    PARTITION BY d.payment_id
                    ORDER BY CASE WHEN d.open0 < 0 THEN 0 ELSE 1 END, d.due_date, d.invoice_id
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) END AS applied
    FROM multi_d AS d
), both_ AS (
    SELECT entity, payment_id, invoice_id, kind, token, n_inv, paid_on, currency, open0, invoice_number, applied
    FROM single WHERE applied > 0
    UNION ALL
    SELECT entity, payment_id, invoice_id, kind, token, n_inv, paid_on, currency, open0, invoice_number, applied
    FROM multi WHERE applied <> 0
), ruled AS (
    SELECT b.*,
           CASE b.kind WHEN 1 THEN 'exact_reference' WHEN 2 THEN 'normalized_reference'
                       WHEN 3 THEN 'reference_groups' WHEN 5 THEN 'alias_reference' ELSE 'reference_tail' END AS rule
    FROM both_ AS b
)
SELECT entity,
       md5(entity || '|' || payment_id || '|' || invoice_id || '|' || rule) AS match_id,
       payment_id, invoice_id, CAST(applied AS DECIMAL(18,2)), CAST(0 AS DECIMAL(18,2)), CAST(NULL AS VARCHAR),
       currency, rule,
       CASE kind WHEN 1 THEN {{ conf.exact_reference }} WHEN 2 THEN {{ conf.normalized_reference }}
                 WHEN 3 THEN {{ conf.reference_groups }} WHEN 5 THEN {{ conf.alias_reference }}
                 ELSE {{ conf.reference_tail }} END,
       'reference ' || token || ' names invoice ' || coalesce(invoice_number, invoice_id)
           || CASE WHEN n_inv > 1 THEN ' (one of ' || CAST(n_inv AS VARCHAR) || ' listed)' ELSE '' END
           || CASE WHEN applied < open0 AND applied > 0 THEN ' ; partial payment' ELSE '' END,
       CASE kind WHEN 1 THEN '{{ state.exact_reference }}' WHEN 2 THEN '{{ state.normalized_reference }}'
                 WHEN 3 THEN '{{ state.reference_groups }}' WHEN 5 THEN '{{ state.alias_reference }}'
                 ELSE '{{ state.reference_tail }}' END,
       paid_on
FROM ruled;

-- free what later steps do not read
DROP TABLE IF EXISTS rc_alloc;
DROP TABLE IF EXISTS rc_alloc_x;
DROP TABLE IF EXISTS rc_corr;
