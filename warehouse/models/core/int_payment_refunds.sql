-- What the providers' refunds took back of each payment, from the night a refund exists (staging models of
-- shape refunds: Stripe's refund objects), before any payout nets its balance transaction. A refund counts
-- while it stands: pending (the money is on its way back, already off the provider balance), requires_action
-- (handed back once the customer says where) or succeeded; a failed or canceled one never. Amounts in the
-- payment's currency: a refund of a charge the provider converted (fct_payment.instructed_currency, the
-- charge's) at the charge's own rate. refunded_by_payment (warehouse/sql.py) takes, per payment, the larger
-- of this and what the payouts' refund lines net (a refund that failed after its payout counts until the
-- refund_failure line brings it back).
SELECT r.entity, r.payment_id,
       sum(CASE WHEN upper(r.currency) = upper(p.currency) THEN r.amount
                WHEN upper(r.currency) = upper(p.instructed_currency) AND p.instructed_amount <> 0
                THEN round(r.amount * p.amount / p.instructed_amount, 2) END) AS refunded
FROM ({{ union('refunds') }}) AS r
JOIN fct_payment AS p ON p.entity = r.entity AND p.payment_id = r.payment_id
WHERE coalesce(r.status, 'succeeded') NOT IN ('failed', 'canceled')
GROUP BY r.entity, r.payment_id
