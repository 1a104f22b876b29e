-- Stripe payouts; fees are the sum of the fees of the balance transactions they settle.
-- A payout is in its latest state: the object as loaded (payouts are walked by created date and not re-read),
-- or a later payout.* event (payout.paid, payout.failed, payout.canceled: data.object is the payout), whichever
-- is newer (a failed or canceled one whatever its time: those are final); the object's time is its load's (dlt's
-- load id, unix seconds). A payout listed paid that failed
-- days later is failed: its money came back to the Stripe balance and goes out in a later payout (a
-- payout_failure balance transaction, reporting category payout_reversal, in that payout's composition).
-- shape: payouts
-- requires: raw_stripe_payouts, raw_stripe_balance_transactions
WITH latest AS (
    {{ stripe_latest_event('payout') }}
),
fees AS (
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
    -- (failed and canceled are final: whichever says so wins, whatever the clocks; a replayed or backdated
    -- event is older than the load that listed the payout paid, and still the truth)
    CASE WHEN p.status IN ('failed', 'canceled') THEN p.status
         WHEN ev.status IN ('failed', 'canceled') THEN ev.status
         ELSE {{ stripe_latest_status('p', 'raw_stripe_payouts') }} END AS status,
    coalesce(nullif(p.statement_descriptor, ''), p.id) AS reference,
    -- (a Stripe payout is in its bank account's currency)
    CAST(NULL AS DECIMAL(18,2)) AS bank_amount, CAST(NULL AS TEXT) AS bank_currency,
    'stripe' AS source_system,
    p.id AS source_id
FROM raw_stripe_payouts AS p
LEFT JOIN fees AS f ON f.payout = p.id
LEFT JOIN latest AS ev ON ev.object_id = p.id
