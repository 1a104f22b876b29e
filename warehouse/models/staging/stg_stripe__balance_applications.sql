-- What Stripe applied from each customer's credit balance to its invoices: a credit note credited to the
-- customer's balance (on an invoice already paid, credit_amount) is used by Stripe on the customer's next
-- invoices, which then ask for less (amount_due) or nothing at all (paid without a charge). Stripe says so on the
-- invoice: its starting_balance (the customer's balance before the invoice was finalized, negative for a credit)
-- and its ending_balance (after); the difference is the credit the invoice used. A draft or void invoice used none.
-- The invoice is found by the ERP number in its metadata (mappings/providers.yaml's keys) or by its own number,
-- which an ERP mirroring Stripe's invoices keeps.
-- shape: balance_applications
-- requires: raw_stripe_invoices
{% set balances = has_column('raw_stripe_invoices', 'starting_balance') and has_column('raw_stripe_invoices', 'ending_balance') %}
{% set refs = metadata_cols('raw_stripe_invoices', 'si', providers.stripe.invoice_keys) %}
{% if balances %}
SELECT
    si.entity,
    coalesce({% for col in refs %}nullif({{ col }}, ''), {% endfor %}CAST(NULL AS TEXT)) AS invoice_ref,
    si.number,
    {{ minor_to_decimal('si.ending_balance - si.starting_balance', 'si.currency') }} AS amount,
    upper(si.currency) AS currency,
    {{ unix_to_date('si.created') }} AS applied_on,
    'stripe' AS source_system,
    si.id AS source_id
FROM raw_stripe_invoices AS si
WHERE si.starting_balance < 0 AND si.ending_balance > si.starting_balance
  AND coalesce(si.status, '') IN ('open', 'paid', 'uncollectible')
{% else %}
SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS invoice_ref, CAST(NULL AS TEXT) AS number,
       CAST(NULL AS DECIMAL(18,2)) AS amount, CAST(NULL AS TEXT) AS currency, CAST(NULL AS DATE) AS applied_on,
       CAST(NULL AS TEXT) AS source_system, CAST(NULL AS TEXT) AS source_id
WHERE 1 = 0
{% endif %}
