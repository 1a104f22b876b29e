-- Stripe refunds as Stripe knows them, from the night they exist: a refund's balance transaction reaches
-- raw_stripe_balance_transactions only with the payout that nets it (days later, or more when the day
-- netted negative). A refund is in its latest state: the object as loaded (refunds are walked by created
-- date and not re-read) or a later event about it (refund.updated, refund.failed, charge.refund.updated:
-- data.object is the refund), whichever is newer; the object's time is its load's (dlt's load id).
-- shape: refunds
-- requires: raw_stripe_refunds
{% set events = has('raw_stripe_events') and has_column('raw_stripe_events', 'data__object__status') %}
{% set loaded_at = has_column('raw_stripe_refunds', '_dlt_load_id') %}
WITH latest AS (
    {% if events %}
    SELECT object_id, status, created FROM (
        SELECT data__object__id AS object_id, data__object__status AS status, created,
               row_number() OVER (PARTITION BY data__object__id ORDER BY created DESC, id DESC) AS rn
        FROM raw_stripe_events
        WHERE data__object__object = 'refund' AND data__object__status IS NOT NULL
    ) AS e WHERE rn = 1
    {% else %}
    SELECT CAST(NULL AS TEXT) AS object_id, CAST(NULL AS TEXT) AS status, CAST(NULL AS BIGINT) AS created WHERE 1 = 0
    {% endif %}
)
SELECT
    r.entity,
    r.id AS refund_id,
    r.charge AS payment_id,
    {{ minor_to_decimal('r.amount', 'r.currency') }} AS amount,
    upper(r.currency) AS currency,
    CASE WHEN ev.status IS NOT NULL
              {% if loaded_at %}AND (r._dlt_load_id IS NULL OR ev.created > CAST(r._dlt_load_id AS DECIMAL(20,6))){% endif %}
         THEN ev.status ELSE r.status END AS status,
    {{ unix_to_date('r.created') }} AS created_on,
    'stripe' AS source_system,
    r.id AS source_id
FROM raw_stripe_refunds AS r
LEFT JOIN latest AS ev ON ev.object_id = r.id
WHERE r.charge IS NOT NULL
