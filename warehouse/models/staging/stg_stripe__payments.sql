-- Stripe charges as customer payments. Fees and the payout come from the charge's
-- balance transaction; the ERP customer from metadata (charge first, then customer), the
-- invoice number from metadata too: the keys are mappings/providers.yaml's.
-- A charge with an open or lost dispute counts as charged back.
-- shape: payments
-- requires: raw_stripe_charges, raw_stripe_balance_transactions
{% set invoice_refs = metadata_cols('raw_stripe_charges', 'c', providers.stripe.invoice_keys) %}
{% set customer_refs = metadata_cols('raw_stripe_charges', 'c', providers.stripe.customer_keys)
      + (metadata_cols('raw_stripe_customers', 'cu', providers.stripe.customer_keys) if has('raw_stripe_customers') else []) %}
WITH charge_bt AS (
    SELECT source, max(payout) AS payout, sum(fee) AS fee
    FROM raw_stripe_balance_transactions
    WHERE reporting_category = 'charge'
    GROUP BY source
){% if has('raw_stripe_disputes') %},
lost AS (
    SELECT DISTINCT charge FROM raw_stripe_disputes WHERE status NOT IN ('won', 'warning_closed')
){% endif %}
SELECT
    c.entity,
    c.id AS payment_id,
    'stripe' AS channel,
    coalesce({% for col in customer_refs %}nullif({{ col }}, ''), {% endfor %}CAST(NULL AS TEXT)) AS customer_id,
    {{ minor_to_decimal('c.amount', 'c.currency') }} AS amount,
    {{ minor_to_decimal('coalesce(bt.fee, 0)', 'c.currency') }} AS fee,
    upper(c.currency) AS currency,
    {{ unix_to_date('c.created') }} AS paid_on,
    CASE
        WHEN c.status = 'failed' THEN 'failed'
        WHEN c.status = 'pending' THEN 'pending'
        {% if has('raw_stripe_disputes') %}WHEN lost.charge IS NOT NULL THEN 'charged_back'{% endif %}
        WHEN c.refunded THEN 'refunded'
        ELSE 'succeeded'
    END AS status,
    concat_ws(' ', {% for col in invoice_refs %}{{ col }}, {% endfor %}c.description) AS reference,
    c.billing_details__name AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    bt.payout AS payout_id,
    c.failure_code AS failure_reason,
    CAST(NULL AS TEXT) AS erp_lettrage,
    'stripe' AS source_system,
    c.id AS source_id
FROM raw_stripe_charges AS c
LEFT JOIN charge_bt AS bt ON bt.source = c.id
{% if has('raw_stripe_customers') %}LEFT JOIN raw_stripe_customers AS cu ON cu.id = c.customer{% endif %}
{% if has('raw_stripe_disputes') %}LEFT JOIN lost ON lost.charge = c.id{% endif %}
