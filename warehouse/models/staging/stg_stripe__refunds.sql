-- Stripe refunds as Stripe knows them, from the night they exist: a refund's balance transaction reaches
-- raw_stripe_balance_transactions only with the payout that nets it (days later, or more when the day
-- netted negative). A refund is in its latest state: the object as loaded (refunds are walked by created
-- date and not re-read) or a later event about it (refund.updated, refund.failed, charge.refund.updated:
-- data.object is the refund), whichever is newer; the object's time is its load's (dlt's load id).
-- shape: refunds
-- requires: raw_stripe_refunds
WITH latest AS (
    {{ stripe_latest_event('refund') }}
)
SELECT
    r.entity,
    r.id AS refund_id,
    r.charge AS payment_id,
    {{ minor_to_decimal('r.amount', 'r.currency') }} AS amount,
    upper(r.currency) AS currency,
    {{ stripe_latest_status('r', 'raw_stripe_refunds') }} AS status,
    {{ unix_to_date('r.created') }} AS created_on,
    'stripe' AS source_system,
    r.id AS source_id
FROM raw_stripe_refunds AS r
LEFT JOIN latest AS ev ON ev.object_id = r.id
WHERE r.charge IS NOT NULL
