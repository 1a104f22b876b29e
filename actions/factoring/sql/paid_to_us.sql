-- Customer payments applied to an assigned invoice after its assignment: the money belongs to
-- the factor and must be transferred to it.
SELECT m.entity, m.payment_id, m.invoice_id, fa.batch_id, fa.factor, m.amount_applied AS amount, m.currency,
       coalesce(p.paid_on, CAST(m.matched_at AS DATE)) AS paid_on, p.channel, p.reference
FROM fct_match AS m
JOIN fct_factoring_assignment AS fa ON fa.entity = m.entity AND fa.invoice_id = m.invoice_id
LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id
WHERE m.entity = :entity
  AND m.state IN ('auto', 'confirmed')
  AND coalesce(m.rule, '') <> 'credit_note'
  AND m.amount_applied > 0
  AND coalesce(fa.status, '') NOT IN ('repurchased', 'cancelled', 'rejected', 'recourse')
  AND coalesce(p.paid_on, CAST(m.matched_at AS DATE)) >= fa.assigned_on
ORDER BY m.payment_id, m.invoice_id
