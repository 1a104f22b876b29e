-- What one contract already carries per debtor of one entity: assigned lines the factor has not
-- collected (no reserve released for them) nor settled, at the invoice's open amount when the
-- warehouse still knows the invoice.
SELECT it.customer_id, sum(CASE WHEN i.invoice_id IS NULL THEN it.amount ELSE i.amount_open END) AS outstanding
FROM factoring_batch_item AS it
JOIN factoring_batch AS b ON b.batch_id = it.batch_id
LEFT JOIN fct_invoice AS i ON i.entity = it.entity AND i.invoice_id = it.invoice_id
LEFT JOIN fct_factoring_assignment AS fa
       ON fa.entity = it.entity AND fa.invoice_id = it.invoice_id AND fa.batch_id = it.batch_id
WHERE b.contract_id = :contract_id AND it.entity = :entity
  AND coalesce(fa.status, 'assigned') NOT IN ('collected', 'settled', 'repurchased', 'cancelled', 'rejected')
GROUP BY it.customer_id
