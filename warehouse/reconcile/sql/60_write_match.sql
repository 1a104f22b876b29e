-- Write fct_match: rule matches of this run plus every decision-fixed match
-- (confirmed and rejected rows survive every run). matched_at is kept from the
-- first run that found a match, so re-running changes nothing.
{#- the matches this run writes: its rule matches plus every decision-fixed one (compared, then inserted) -#}
{% set new_matches -%}
SELECT entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason, currency, rule,
           confidence, explanation, state FROM rc_match
    UNION ALL
    SELECT entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason, currency, rule,
           confidence, explanation, state FROM rc_fixed WHERE origin = 'decision'
{%- endset %}
{% if incremental %}
-- The rows this run replaces: the scope's old matches, credit notes' and decisions' (a decision-fixed
-- match is written again from rc_fixed). Read once: each of the three uses below scanned every match
-- of the book, ~20 ms apiece at a million matches.
DROP TABLE IF EXISTS rc_gone;
CREATE TEMP TABLE rc_gone AS
SELECT {% if engine == 'duckdb' %}rowid AS rid, {% endif %}match_id, matched_at, invoice_id, payment_id, rule
FROM fct_match
WHERE (rule IN {{ reapplied }} OR state IN ('confirmed', 'rejected')
       OR payment_id IN (SELECT payment_id FROM rc_scope))
  AND entity = :entity;

-- first matched_at of the matches written again (every match this run writes is among the rows it replaces)
DROP TABLE IF EXISTS rc_old_match;
CREATE TEMP TABLE rc_old_match AS
SELECT match_id, matched_at FROM rc_gone
WHERE match_id IN (SELECT match_id FROM rc_match UNION ALL SELECT match_id FROM rc_fixed WHERE origin = 'decision');

-- invoices whose state this run may move: 70_invoice rewrites only these
INSERT INTO rc_affected (invoice_id)
SELECT id FROM (
    -- (a credit note's match moves the credit note too)
    SELECT unnest({{ pair('invoice_id', "CASE WHEN rule = 'credit_note' THEN payment_id END") }}) AS id FROM rc_gone
) AS m WHERE id IS NOT NULL
UNION SELECT invoice_id FROM rc_match
UNION SELECT payment_id FROM rc_match WHERE rule = 'credit_note'
UNION SELECT invoice_id FROM rc_fixed WHERE origin = 'decision'
UNION SELECT invoice_id FROM rc_inv_changed
UNION SELECT invoice_id FROM decision WHERE entity = :entity AND invoice_id IS NOT NULL
UNION SELECT invoice_id FROM fct_factoring_assignment WHERE entity = :entity AND invoice_id IS NOT NULL;

-- the rows just read, in the same transaction (by row id on DuckDB, without looking for them again)
{% if engine == 'duckdb' %}
DELETE FROM fct_match WHERE rowid IN (SELECT rid FROM rc_gone);
{% else %}
DELETE FROM fct_match WHERE entity = :entity AND match_id IN (SELECT match_id FROM rc_gone);
{% endif %}
{% else %}
DROP TABLE IF EXISTS rc_old_match;
CREATE TEMP TABLE rc_old_match AS
SELECT entity, match_id, matched_at FROM fct_match
WHERE match_id IN (SELECT match_id FROM rc_match UNION ALL SELECT match_id FROM rc_fixed WHERE origin = 'decision')
  AND entity = :entity;

-- A full run rewrites only the matches that changed: run after run most of a book's matches are
-- the same, and rewriting a million rows cost more than finding the few that moved (one join on
-- match_id). Unchanged rows keep their row (and _loaded_at); gone or changed ones are deleted, and
-- new or changed ones inserted below (matched_at kept through rc_old_match).
DROP TABLE IF EXISTS rc_same_match;
CREATE TEMP TABLE rc_same_match AS
SELECT o.match_id
FROM fct_match AS o
JOIN (
    {{ new_matches }}
) AS n ON n.match_id = o.match_id
WHERE o.payment_id IS NOT DISTINCT FROM n.payment_id AND o.invoice_id IS NOT DISTINCT FROM n.invoice_id
  AND o.amount_applied IS NOT DISTINCT FROM n.amount_applied AND o.adjustment IS NOT DISTINCT FROM n.adjustment
  AND o.adjustment_reason IS NOT DISTINCT FROM n.adjustment_reason AND o.currency IS NOT DISTINCT FROM n.currency
  AND o.rule IS NOT DISTINCT FROM n.rule AND o.confidence IS NOT DISTINCT FROM n.confidence
  AND o.explanation IS NOT DISTINCT FROM n.explanation AND o.state IS NOT DISTINCT FROM n.state
  AND o.entity = :entity;

DELETE FROM fct_match
WHERE match_id NOT IN (SELECT match_id FROM rc_same_match) AND entity = :entity;
{% endif %}

INSERT INTO fct_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                       currency, rule, confidence, explanation, matched_at, state, source_system, source_id, _loaded_at)
SELECT m.entity, m.match_id, m.payment_id, m.invoice_id, m.amount_applied, m.adjustment, m.adjustment_reason,
       m.currency, m.rule, m.confidence, m.explanation,
       coalesce(o.matched_at, CAST(:now AS TIMESTAMP WITH TIME ZONE)), m.state, 'lettrage', m.match_id,
       CAST(:now AS TIMESTAMP WITH TIME ZONE)
FROM (
    {{ new_matches }}
) AS m
LEFT JOIN rc_old_match AS o ON o.match_id = m.match_id
{% if not incremental %}WHERE m.match_id NOT IN (SELECT match_id FROM rc_same_match){% endif %};
{{ analyze('fct_match', full_only=True) }}
DROP TABLE IF EXISTS rc_old_match;
DROP TABLE IF EXISTS rc_same_match;
DROP TABLE IF EXISTS rc_gone;
