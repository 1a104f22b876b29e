-- Inputs of one run: invoices with what is already consumed, payments in scope,
-- and the reference keys of both sides. Temp tables (rc_*) live for the run only.
{% if refunds %}
-- A refund the ERP answered with a credit note it did not letter (a card refund booked as a credit note
-- on the customer's account and left there; NetSuite or Sage credit notes without an allocation): the
-- credit note settles what the refund took back from the invoice the refunded payment named
-- (15_credit_notes). Paired from the inputs alone, so every run, full or incremental, pairs alike: the
-- payment names exactly one invoice by its number (one word of its reference), and that invoice's
-- customer has exactly one credit note of the refunded amount, in its currency, not lettered with another
-- document (the ERP may letter it with its own entry of the refund), issued on
-- or after the invoice, that no other refund claims. Anything less certain stays as it was: the refund
-- an exception, the credit note open.
DELETE FROM rc_refund_cn;
INSERT INTO rc_refund_cn (payment_id, refunded, invoice_id, cn_id, cn_number)
WITH r AS (
    SELECT payment_id, CAST(refunded AS DECIMAL(18,2)) AS refunded
    FROM ({{ refunded_by_payment("entity = :entity") }}) AS x WHERE refunded > 0
), words AS (
    SELECT r.payment_id, r.refunded, upper(p.currency) AS currency,
           unnest(regexp_split_to_array(upper(coalesce(p.reference, '')), '[^A-Z0-9/._-]+')) AS word
    FROM r JOIN fct_payment AS p ON p.entity = :entity AND p.payment_id = r.payment_id
    WHERE p.status IN ('succeeded', 'refunded')
), named AS (
    SELECT w.payment_id, min(w.refunded) AS refunded, min(i.invoice_id) AS invoice_id,
           min(i.customer_id) AS customer_id, min(w.currency) AS currency, min(i.issue_date) AS issue_date
    FROM words AS w
    -- (separators aside: "FA2026/0020" names FA2026-0020)
    JOIN {{ invoices_table }} AS i ON i.entity = :entity AND i.doc_type = 'invoice'
         AND translate(upper(trim(i.invoice_number)), '/._- ', '') = translate(w.word, '/._-', '')
         AND upper(i.currency) = w.currency
    WHERE length(trim(both '/._-' from w.word)) >= {{ min_len }}
    GROUP BY w.payment_id HAVING count(DISTINCT i.invoice_id) = 1
), pair AS (
    SELECT n.payment_id, n.refunded, n.invoice_id, c.invoice_id AS cn_id, c.invoice_number AS cn_number,
           count(*) OVER (PARTITION BY n.payment_id) AS n_cn, count(*) OVER (PARTITION BY c.invoice_id) AS n_pay
    FROM named AS n
    JOIN {{ invoices_table }} AS c ON c.entity = :entity AND c.doc_type = 'credit_note'
         AND c.customer_id = n.customer_id AND upper(c.currency) = n.currency
         AND c.amount_total = -n.refunded AND c.issue_date >= n.issue_date
         -- not lettered with another document (a FEC may letter it with the entry booking the refund itself)
         AND (coalesce(c.erp_lettrage, '') = ''
              OR NOT EXISTS (SELECT 1 FROM {{ invoices_table }} AS o
                             WHERE o.entity = :entity AND o.customer_id = c.customer_id
                               AND o.erp_lettrage = c.erp_lettrage AND o.invoice_id <> c.invoice_id))
)
SELECT payment_id, refunded, invoice_id, cn_id, cn_number FROM pair WHERE n_cn = 1 AND n_pay = 1;

{% endif %}
{% if named_credit_notes %}
-- A credit note the ERP did not letter whose own text names its invoice ("Avoir AV-2026-00010 sur facture
-- FA-2026-00151", a FEC label): it credits that invoice (15_credit_notes), as a lettered one would, so a reminder
-- asks for the net and factoring does not assign the invoice at face value. Paired from the inputs alone, so
-- every run, full or incremental, pairs alike: the text holds exactly one invoice number of the same customer and
-- currency (separators aside), issued by the credit note's date and not lettered with anything else.
DELETE FROM rc_named_cn;
INSERT INTO rc_named_cn (cn_id, invoice_id, cn_number)
WITH cn AS (
    SELECT invoice_id AS cn_id, invoice_number AS cn_number, customer_id, upper(currency) AS currency, issue_date,
           {{ norm_ref('description') }} AS said, {{ norm_ref('invoice_number') }} AS own
    FROM {{ invoices_table }}
    WHERE entity = :entity AND doc_type = 'credit_note' AND (erp_lettrage IS NULL OR erp_lettrage = '')
      AND description IS NOT NULL
    {% if refunds %}
      -- (one issued for a refund is paired with its invoice above, for what the refund took back: its text naming
      -- the invoice, "remboursement partiel FA-2026-0018", once credited the invoice a second time)
      AND invoice_id NOT IN (SELECT cn_id FROM rc_refund_cn)
    {% endif %}
    {% if erp_credit_applications %}
      -- (one the ERP applied by amount is set against the invoices it names, for those amounts: 15_credit_notes)
      AND invoice_id NOT IN ({{ erp_applied_cns() }})
    {% endif %}
), inv AS MATERIALIZED (
    -- (the invoices of those customers only, each number normalised once: MATERIALIZED, else Postgres inlines
    -- the CTE and normalises the number again for every credit note of the customer it is compared with.
    -- "erp_lettrage IS NULL OR = ''" rather than coalesce(...) = '': the planner reads the column's statistics
    -- for the one and guesses 0.5 % for the other, took 119,000 invoices for 200 and nested-looped them, 27 s)
    SELECT invoice_id, customer_id, upper(currency) AS currency, issue_date, {{ norm_ref('invoice_number') }} AS num
    FROM {{ invoices_table }}
    WHERE entity = :entity AND doc_type = 'invoice' AND (erp_lettrage IS NULL OR erp_lettrage = '')
      AND customer_id IN (SELECT customer_id FROM cn)
), pair AS (
    SELECT cn.cn_id, cn.cn_number, i.invoice_id, count(*) OVER (PARTITION BY cn.cn_id) AS n_inv
    FROM cn
    JOIN inv AS i ON i.customer_id = cn.customer_id AND i.currency = cn.currency AND i.issue_date <= cn.issue_date
    WHERE length(i.num) >= {{ min_len }} AND strpos(cn.said, i.num) > 0 AND i.num <> cn.own
)
SELECT cn_id, invoice_id, cn_number FROM pair WHERE n_inv = 1;

{% endif %}
{% if incremental %}
-- An incremental run reads the open amounts of what it can touch, not of the whole book: the
-- invoices changed, netted by credit notes (15_credit_notes re-applies them all), fixed by a
-- decision, or given back by the scope's old matches. 20_candidates adds the invoices the
-- scope's references name, 34_residue_book those the residue searches.
DELETE FROM rc_inv_need;
INSERT INTO rc_inv_need (invoice_id)
SELECT invoice_id FROM rc_inv_changed
UNION SELECT invoice_id FROM rc_fixed
UNION SELECT invoice_id FROM decision WHERE entity = :entity AND invoice_id IS NOT NULL
-- (one pass over the book's matches: both sides of a credit note's match, the scope's old invoices)
UNION SELECT id FROM (
    SELECT unnest({{ pair('invoice_id', "CASE WHEN rule = 'credit_note' THEN payment_id END") }}) AS id FROM fct_match
    WHERE entity = :entity AND (rule IN {{ reapplied }} OR payment_id IN (SELECT payment_id FROM rc_scope))
) AS m WHERE id IS NOT NULL
-- (both sides of a refund's credit note: re-applied every run, as lettered credit notes are)
UNION SELECT invoice_id FROM rc_refund_cn
UNION SELECT cn_id FROM rc_refund_cn
{% if cn_refunds %}
-- (credit notes paid back: closed again every run)
UNION SELECT cn_id FROM int_credit_note_refunds WHERE entity = :entity
{% endif %}
{% if named_credit_notes %}
UNION SELECT invoice_id FROM rc_named_cn
UNION SELECT cn_id FROM rc_named_cn
{% endif %}
{% if balance_applications %}
-- (the invoices a provider's customer balance paid, and their customers' credit notes: laid on them every run)
UNION SELECT invoice_id FROM int_invoice_balance_applications WHERE entity = :entity
UNION SELECT invoice_id FROM {{ invoices_table }}
WHERE entity = :entity AND doc_type = 'credit_note'
  AND customer_id IN (SELECT i.customer_id FROM {{ invoices_table }} AS i
                      WHERE i.entity = :entity AND i.invoice_id IN (SELECT invoice_id FROM int_invoice_balance_applications
                                                                    WHERE entity = :entity))
{% endif %}
{% if erp_credit_applications %}
-- (both sides of what the ERP applied of a credit note to an invoice: set against each other every run)
UNION SELECT invoice_id FROM int_erp_credit_applications WHERE entity = :entity
UNION {{ erp_applied_cns() }}
{% endif %}
UNION SELECT invoice_id FROM {{ invoices_table }}
WHERE entity = :entity AND erp_lettrage IN (SELECT erp_lettrage FROM {{ invoices_table }}
                                            WHERE entity = :entity AND doc_type = 'credit_note' AND erp_lettrage <> '');
{% endif %}
DROP TABLE IF EXISTS rc_inv;
CREATE TEMP TABLE rc_inv AS
{{ invoice_rows("SELECT invoice_id FROM rc_inv_need" if incremental else "") }};
-- (work tables are temporary: autovacuum never analyses them, and without statistics Postgres
-- nested-loops them; each is analysed once filled, like 30_allocate's)
{{ analyze('rc_inv') }}

-- Keys of each invoice number, computed once per row in one statement (every regular
-- expression runs once per invoice) and kept one row per invoice, a column per key kind
-- (k1 exact .. k4 tail; NULL when the number has no key of that kind): a quarter of the rows
-- a table stacked by kind would write, and each kind's look-up reads one column.
-- In an incremental run only new or changed invoices are keyed (rc_inv_changed);
-- the others keep theirs in reconcile_invoice_key.
{% if incremental %}
DELETE FROM reconcile_invoice_key
WHERE entity = :entity AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed);
{% else %}
DELETE FROM reconcile_invoice_key WHERE entity = :entity;
{% endif %}

INSERT INTO reconcile_invoice_key (entity, invoice_id, customer_id, currency, k1, k2, k3, k4)
WITH s AS (
    SELECT entity, invoice_id, customer_id, currency, num_u, {{ strip_prefix('num_u') }} AS stripped
    FROM rc_inv WHERE num_u <> ''
    {% if incremental %}AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed){% endif %}
), d AS (
    SELECT entity, invoice_id, customer_id, currency, num_u, stripped, {{ k_dashed('stripped') }} AS dashed FROM s
), k AS (
    SELECT entity, invoice_id, customer_id, currency, num_u, {{ k_norm_of_dashed('dashed') }} AS k2,
           {{ k_groups_of_dashed('dashed') }} AS k3, {{ regex_group('stripped', year_tail(), 2) }} AS k4
    FROM d
)
SELECT entity, invoice_id, customer_id, currency, num_u,
       CASE WHEN length(k2) >= {{ min_len }} THEN k2 END,
       CASE WHEN k3 LIKE '%-%' THEN k3 END,
       CASE WHEN length(k4) >= {{ min_tail }} THEN k4 END
FROM k;
{{ analyze('reconcile_invoice_key', full_only=True) }}


-- The other numbers the ERP keeps for a document (int_invoice_aliases), exact and normalized: few rows,
-- rebuilt every run, full or incremental. 20_candidates looks them up last (kind 5).
DELETE FROM reconcile_invoice_alias_key WHERE entity = :entity;
INSERT INTO reconcile_invoice_alias_key (entity, invoice_id, customer_id, currency, k1, k2)
WITH a AS (
    SELECT a.entity, a.invoice_id, i.customer_id, upper(i.currency) AS currency, upper(trim(a.alias)) AS k1
    FROM int_invoice_aliases AS a
    JOIN {{ invoices_table }} AS i ON i.entity = a.entity AND i.invoice_id = a.invoice_id
    WHERE a.entity = :entity AND upper(trim(a.alias)) <> upper(trim(coalesce(i.invoice_number, '')))
), k AS (
    SELECT entity, invoice_id, customer_id, currency, k1, {{ k_norm(strip_prefix('k1')) }} AS k2 FROM a WHERE k1 <> ''
)
SELECT DISTINCT entity, invoice_id, customer_id, currency, k1, CASE WHEN length(k2) >= {{ min_len }} THEN k2 END
FROM k;

DROP TABLE IF EXISTS rc_pay;
CREATE TEMP TABLE rc_pay AS
SELECT
    p.entity, p.payment_id, p.channel, p.status, upper(p.currency) AS currency, p.paid_on,
    CAST(p.amount - coalesce(r.refunded, 0) AS DECIMAL(18,2)) AS amount,
    CAST(p.amount - coalesce(r.refunded, 0) - coalesce(f.consumed, 0) AS DECIMAL(18,2)) AS remaining,
    CAST(coalesce(r.refunded, 0) AS DECIMAL(18,2)) AS refunded,
    p.reference, p.payer_name, upper(replace(coalesce(p.payer_iban, ''), ' ', '')) AS payer_iban,
    coalesce(p.customer_id, ci.customer_id, ai.customer_id) AS customer_id,
    CASE WHEN p.customer_id IS NOT NULL THEN 'payment'
         WHEN ci.customer_id IS NOT NULL THEN 'iban'
         WHEN ai.customer_id IS NOT NULL THEN 'alias' END AS customer_via,
    CASE WHEN p.customer_id IS NULL AND ci.customer_id IS NULL THEN ai.decision_id END AS alias_decision
FROM {% if incremental %}{{ rows_of('fct_payment', 'payment_id', 'SELECT payment_id FROM rc_scope') }}{% else %}fct_payment{% endif %} AS p
LEFT JOIN (
    SELECT entity, payment_id, sum(amount_applied) AS consumed
    FROM rc_fixed WHERE state IN ('auto', 'confirmed') GROUP BY entity, payment_id
) AS f ON f.entity = p.entity AND f.payment_id = p.payment_id
LEFT JOIN (
    -- money handed back (card refunds) is not money received: only the net settles invoices
    {{ refunded_by_payment("entity = :entity" + (" AND payment_id IN (SELECT payment_id FROM rc_scope)"
                                                 if incremental else "")) }}
) AS r ON r.entity = p.entity AND r.payment_id = p.payment_id
LEFT JOIN (
    {{ iban_owners() }}
) AS ci ON ci.entity = p.entity AND ci.iban = upper(replace(coalesce(p.payer_iban, ''), ' ', ''))
LEFT JOIN (
    SELECT entity, value, min(customer_id) AS customer_id, min(decision_id) AS decision_id
    FROM payer_alias WHERE kind = 'iban'
    GROUP BY entity, value HAVING count(DISTINCT customer_id) = 1
) AS ai ON ai.entity = p.entity AND ai.value = upper(replace(coalesce(p.payer_iban, ''), ' ', ''))
WHERE p.channel <> 'erp' AND p.payment_id IS NOT NULL
  AND p.payment_id NOT IN (SELECT bank_line_id FROM fct_payout WHERE bank_line_id IS NOT NULL)
  AND p.entity = :entity;
{{ analyze('rc_pay') }}

-- The distinct reference tokens of each payment (runs of letters, digits and separators holding
-- a digit, outer separators trimmed), as references.tokens reads them: bank field codes
-- (/INV/, /RFB/ ...) are separators, and digit groups separated by spaces are also read joined
-- by a dash. A reference that is one token (the invoice number as printed, most remittances)
-- is taken whole: the same token the split would give, without splitting it. Keys weaker than
-- the token itself are computed in 20_candidates, only for tokens that do not name an invoice exactly.
DROP TABLE IF EXISTS rc_tok;
CREATE TEMP TABLE rc_tok AS
WITH r0 AS (
    SELECT entity, payment_id, currency, customer_id, upper(coalesce(reference, '')) AS ref0 FROM rc_pay
), r AS (
    SELECT entity, payment_id, currency, customer_id, {{ strip_tags('ref0') }} AS ref FROM r0
), one AS (
    SELECT entity, payment_id, currency, customer_id, ref,
           {{ regex_matches('ref', '^[A-Z0-9/._-]*[0-9][A-Z0-9/._-]*$') }} AS whole
    FROM r
), spaced AS (
    SELECT entity, payment_id, currency, customer_id, ref, {{ join_spaced_digits('ref') }} AS joined
    FROM one WHERE NOT whole
), raw AS (
    SELECT entity, payment_id, currency, customer_id, {{ split_tokens('ref') }} AS t FROM spaced
    UNION ALL
    SELECT entity, payment_id, currency, customer_id, {{ split_tokens('joined') }} AS t FROM spaced WHERE joined <> ref
)
SELECT entity, payment_id, currency, customer_id, trim(both '/._-' from ref) AS token FROM one WHERE whole
UNION ALL
SELECT DISTINCT entity, payment_id, currency, customer_id, trim(both '/._-' from t) AS token
FROM raw WHERE {{ regex_matches('t', '[0-9]') }};

-- a list written with slashes (90001341/90001342) also names its parts (references.SLASH_NOT_A_LIST)
INSERT INTO rc_tok (entity, payment_id, currency, customer_id, token)
SELECT DISTINCT entity, payment_id, currency, customer_id, part
FROM (
    SELECT entity, payment_id, currency, customer_id, trim(both '/._-' from {{ split_slash('token') }}) AS part
    FROM rc_tok WHERE {{ slash_list('token') }}
) AS s
WHERE part <> '' AND NOT EXISTS (SELECT 1 FROM rc_tok AS t WHERE t.payment_id = s.payment_id AND t.token = s.part);
{{ analyze('rc_tok') }}
