-- Write fct_match: rule matches of this run plus every decision-fixed match
-- (confirmed and rejected rows survive every run). matched_at is kept from the
-- first run that found a match, so re-running changes nothing.
DROP TABLE IF EXISTS rc_old_match;
CREATE TEMP TABLE rc_old_match AS
SELECT entity, match_id, matched_at FROM fct_match
WHERE match_id IN (SELECT match_id FROM rc_match UNION ALL SELECT match_id FROM rc_fixed WHERE origin = 'decision')
  {% if entity %}AND entity = :entity{% endif %};

{% if incremental %}
-- invoices whose state this run may move: 70_invoice rewrites only these
INSERT INTO rc_affected (invoice_id)
SELECT invoice_id FROM fct_match
WHERE entity = :entity AND (rule = 'credit_note' OR state IN ('confirmed', 'rejected')
       OR EXISTS (SELECT 1 FROM rc_scope AS s WHERE s.entity = fct_match.entity AND s.payment_id = fct_match.payment_id))
UNION SELECT payment_id FROM fct_match WHERE entity = :entity AND rule = 'credit_note'
UNION SELECT invoice_id FROM rc_match
UNION SELECT payment_id FROM rc_match WHERE rule = 'credit_note'
UNION SELECT invoice_id FROM rc_fixed WHERE origin = 'decision'
UNION SELECT invoice_id FROM rc_inv_changed
UNION SELECT invoice_id FROM decision WHERE entity = :entity AND invoice_id IS NOT NULL
UNION SELECT invoice_id FROM fct_factoring_assignment WHERE entity = :entity AND invoice_id IS NOT NULL;

DELETE FROM fct_match
WHERE (rule = 'credit_note' OR state IN ('confirmed', 'rejected')
       OR EXISTS (SELECT 1 FROM rc_scope AS s WHERE s.entity = fct_match.entity AND s.payment_id = fct_match.payment_id))
  {% if entity %}AND entity = :entity{% endif %};
{% else %}
DELETE FROM fct_match {% if entity %}WHERE entity = :entity{% endif %};
{% endif %}

INSERT INTO fct_match (entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason,
                       currency, rule, confidence, explanation, matched_at, state, source_system, source_id, _loaded_at)
SELECT m.entity, m.match_id, m.payment_id, m.invoice_id, m.amount_applied, m.adjustment, m.adjustment_reason,
       m.currency, m.rule, m.confidence, m.explanation,
       coalesce(o.matched_at, CAST(:now AS TIMESTAMP WITH TIME ZONE)), m.state, 'lettrage', m.match_id,
       CAST(:now AS TIMESTAMP WITH TIME ZONE)
FROM (
    SELECT entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason, currency, rule,
           confidence, explanation, state FROM rc_match
    UNION ALL
    SELECT entity, match_id, payment_id, invoice_id, amount_applied, adjustment, adjustment_reason, currency, rule,
           confidence, explanation, state FROM rc_fixed WHERE origin = 'decision'
) AS m
LEFT JOIN rc_old_match AS o ON o.entity = m.entity AND o.match_id = m.match_id;
DROP TABLE IF EXISTS rc_old_match;
