-- Stripe payouts; fees are the sum of the fees of the balance transactions they settle.
-- shape: payouts
-- requires: raw_stripe_payouts, raw_stripe_balance_transactions
WITH fees AS (
    SELECT payout, sum(fee) AS fees
    FROM raw_stripe_balance_transactions
    WHERE reporting_category <> 'payout' AND payout IS NOT NULL
    GROUP BY payout
)
SELECT
    p.entity,
    p.id AS payout_id,
    {{ minor_to_decimal('p.amount', 'p.currency') }} AS amount,
    {{ minor_to_decimal('coalesce(f.fees, 0)', 'p.currency') }} AS fees,
    upper(p.currency) AS currency,
    {{ unix_to_date('p.arrival_date') }} AS arrival_date,
    p.status,
    coalesce(nullif(p.statement_descriptor, ''), p.id) AS reference,
    'stripe' AS source_system,
    p.id AS source_id
FROM raw_stripe_payouts AS p
LEFT JOIN fees AS f ON f.payout = p.id
