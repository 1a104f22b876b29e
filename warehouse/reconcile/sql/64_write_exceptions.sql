-- Write fct_reconciliation_exception. Ids are deterministic (kind + object), so a
-- re-run keeps opened_at; an exception no longer raised is closed, not deleted;
-- a person's resolve_exception decision closes it for good; one raised settled (50_exceptions: a failed
-- debit whose invoice was since paid) is written closed.
DROP TABLE IF EXISTS rc_exc_final;
CREATE TEMP TABLE rc_exc_final AS
WITH ided AS (
    SELECT e.*,
           md5(e.entity || '|' || e.kind || '|' || coalesce(e.payment_id, e.bank_line_id, e.payout_id, e.invoice_id, '')) AS exception_id
    FROM rc_exc AS e
), one AS (
    SELECT ided.*, row_number() OVER (PARTITION BY exception_id ORDER BY invoice_id) AS rn FROM ided
)
SELECT one.entity, one.exception_id, one.kind, one.payment_id, one.invoice_id, one.payout_id, one.bank_line_id,
       one.amount, one.currency, one.detail, one.customer_id,
       coalesce(old.opened_at, CAST(:now AS TIMESTAMP WITH TIME ZONE)) AS opened_at,
       coalesce(r.resolved_at,
                CASE WHEN one.settled THEN coalesce(old.resolved_at, CAST(:now AS TIMESTAMP WITH TIME ZONE)) END)
           AS resolved_at,
       r.resolved_at IS NOT NULL AS by_decision
FROM one
LEFT JOIN fct_reconciliation_exception AS old ON old.exception_id = one.exception_id
LEFT JOIN rc_resolved AS r ON r.exception_id = one.exception_id
WHERE one.rn = 1;

UPDATE fct_reconciliation_exception
SET resolved_at = CAST(:now AS TIMESTAMP WITH TIME ZONE), detail = detail || ' [closed: no longer raised]'
WHERE resolved_at IS NULL AND entity = :entity
  AND exception_id NOT IN (SELECT exception_id FROM rc_exc_final)
  {% if incremental %}
  -- only exceptions this run looked at: its payments', and those without a payment except an
  -- invoice's erp_disagreement (62) on an invoice the run did not move
  AND (payment_id IN (SELECT payment_id FROM rc_scope)
       OR (payment_id IS NULL AND NOT (kind = 'erp_disagreement' AND invoice_id IS NOT NULL
                                       AND invoice_id NOT IN (SELECT invoice_id FROM rc_affected
                                                              WHERE invoice_id IS NOT NULL))))
  {% endif %};

DELETE FROM fct_reconciliation_exception WHERE exception_id IN (SELECT exception_id FROM rc_exc_final);

INSERT INTO fct_reconciliation_exception (entity, exception_id, kind, payment_id, invoice_id, payout_id, bank_line_id,
                                          amount, currency, detail, opened_at, resolved_at, source_system, source_id, _loaded_at,
                                          customer_id)
SELECT entity, exception_id, kind, payment_id, invoice_id, payout_id, bank_line_id, CAST(amount AS DECIMAL(18,2)),
       currency, detail || CASE WHEN by_decision THEN ' [resolved by decision]'
                                WHEN resolved_at IS NOT NULL THEN ' [closed: settled since]' ELSE '' END,
       opened_at, resolved_at, 'lettrage', exception_id,
       CAST(:now AS TIMESTAMP WITH TIME ZONE), customer_id
FROM rc_exc_final;
{{ analyze('fct_reconciliation_exception', full_only=True) }}
