-- GoCardless SEPA direct debits. The customer comes from metadata, else through the
-- mandate (its customer's metadata; fct_payment then tries the customer's email); failures and chargebacks keep their SEPA reason code (AM04, MD06…) from
-- the payment's latest event giving one (failed, charged_back, a late failure after the payout), else
-- that event's cause (bank_account_closed).
-- shape: payments
-- requires: raw_gocardless_payments
{% set joined = has('raw_gocardless_customers') and has('raw_gocardless_mandates') %}
{% set invoice_refs = metadata_cols('raw_gocardless_payments', 'p', providers.gocardless.invoice_keys) %}
{% set customer_refs = metadata_cols('raw_gocardless_payments', 'p', providers.gocardless.customer_keys)
      + (metadata_cols('raw_gocardless_customers', 'cu', providers.gocardless.customer_keys) if joined else []) %}
WITH fees AS (
    {% if has('raw_gocardless_payout_items') %}
    SELECT links__payment AS payment_id, -sum(amount) AS fee
    FROM raw_gocardless_payout_items
    WHERE type IN ('gocardless_fee', 'app_fee') AND links__payment IS NOT NULL
    GROUP BY links__payment
    {% else %}
    SELECT CAST(NULL AS TEXT) AS payment_id, CAST(NULL AS DECIMAL(18,2)) AS fee WHERE 1 = 0
    {% endif %}
),
reasons AS (
    {% if has('raw_gocardless_events') %}
    SELECT payment_id, reason_code FROM (
        SELECT links__payment AS payment_id,
               coalesce(nullif(details__reason_code, ''), details__cause) AS reason_code,
               row_number() OVER (PARTITION BY links__payment
                                  ORDER BY CASE WHEN nullif(details__reason_code, '') IS NULL THEN 1 ELSE 0 END,
                                           created_at DESC, id DESC) AS rn
        FROM raw_gocardless_events
        WHERE resource_type = 'payments'
          AND (action IN ('failed', 'charged_back', 'late_failure', 'late_failure_settled')
               OR nullif(details__reason_code, '') IS NOT NULL)
    ) AS e WHERE rn = 1
    {% else %}
    SELECT CAST(NULL AS TEXT) AS payment_id, CAST(NULL AS TEXT) AS reason_code WHERE 1 = 0
    {% endif %}
)
SELECT
    p.entity,
    p.id AS payment_id,
    'gocardless' AS channel,
    coalesce({% for col in customer_refs %}nullif({{ col }}, ''), {% endfor %}CAST(NULL AS TEXT)) AS customer_id,
    {{ minor_to_decimal('p.amount', 'p.currency') }} AS amount,
    coalesce(f.fee, 0) AS fee,
    upper(p.currency) AS currency,
    CAST(p.charge_date AS DATE) AS paid_on,
    CASE
        WHEN p.status IN ('confirmed', 'paid_out') THEN 'succeeded'
        WHEN p.status IN ('pending_customer_approval', 'pending_submission', 'submitted') THEN 'pending'
        WHEN p.status = 'charged_back' THEN 'charged_back'
        WHEN p.status IN ('failed', 'cancelled', 'customer_approval_denied') THEN 'failed'
        ELSE p.status
    END AS status,
    concat_ws(' ', {% for col in invoice_refs %}{{ col }}, {% endfor %}p.reference, p.description) AS reference,
    {% if joined %}coalesce(nullif(cu.company_name, ''), concat_ws(' ', cu.given_name, cu.family_name)){% else %}CAST(NULL AS TEXT){% endif %} AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    p.links__payout AS payout_id,
    r.reason_code AS failure_reason,
    CAST(NULL AS TEXT) AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    {% if joined %}nullif(lower(trim(cu.email)), ''){% else %}CAST(NULL AS TEXT){% endif %} AS payer_email,
    p.links__mandate AS mandate_id,
    'gocardless' AS source_system,
    p.id AS source_id
FROM raw_gocardless_payments AS p
LEFT JOIN fees AS f ON f.payment_id = p.id
LEFT JOIN reasons AS r ON r.payment_id = p.id
{% if joined %}
LEFT JOIN raw_gocardless_mandates AS m ON m.id = p.links__mandate
LEFT JOIN raw_gocardless_customers AS cu ON cu.id = m.links__customer
{% endif %}
