-- Assignment status follows the money (derived, recomputed on each run):
-- assigned → financed (the batch's advance arrived) → collected (the factor released this invoice's
-- reserve: its debtor paid the factor) → settled (the batch's whole reserve released).
UPDATE fct_factoring_assignment
SET status = CASE
        WHEN (SELECT coalesce(sum(s.amount), 0) FROM factoring_settlement AS s
              WHERE s.batch_id = fct_factoring_assignment.batch_id AND s.kind = 'reserve_release')
             >= (SELECT b.reserve_amount FROM factoring_batch AS b WHERE b.batch_id = fct_factoring_assignment.batch_id)
             AND EXISTS (SELECT 1 FROM factoring_settlement AS s
                         WHERE s.batch_id = fct_factoring_assignment.batch_id AND s.kind = 'reserve_release')
            THEN 'settled'
        WHEN EXISTS (SELECT 1 FROM factoring_settlement_item AS si
                     WHERE si.entity = fct_factoring_assignment.entity
                       AND si.invoice_id = fct_factoring_assignment.invoice_id
                       AND si.batch_id = fct_factoring_assignment.batch_id AND si.kind = 'reserve_release')
            THEN 'collected'
        WHEN EXISTS (SELECT 1 FROM factoring_settlement AS s
                     WHERE s.batch_id = fct_factoring_assignment.batch_id AND s.kind = 'advance')
            THEN 'financed'
        ELSE 'assigned' END
WHERE entity = :entity
  AND coalesce(status, '') IN ('assigned', 'financed', 'collected', 'settled')
  AND batch_id IN (SELECT batch_id FROM factoring_batch WHERE contract_id = :contract_id)
