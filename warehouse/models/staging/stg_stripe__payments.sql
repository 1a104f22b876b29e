-- Stripe charges as customer payments. Fees and the payout come from the charge's
-- balance transaction; the ERP customer from metadata (charge first, then customer), the
-- invoice number from metadata too: the keys are mappings/providers.yaml's. The payer's name is the Stripe
-- customer's (the name the merchant keeps, often the company's) before the cardholder's on the card.
-- A charge with an open or lost dispute counts as charged back. A charge or a dispute is as its latest
-- event shows it (charge.failed after a SEPA debit was pending, charge.refunded, charge.dispute.closed won):
-- the list resources are walked by created date and never re-read what changed after. A bank debit
-- (SEPA, Bacs ...) that failed says so in failure_reason ('sepa_debit: insufficient_funds'): the money was
-- counted on, unlike a declined card, so the reconciliation raises a failed_debit for it.
-- A charge in another currency than its balance transaction's was converted by Stripe (a GBP account's
-- customer charged EUR): the money received is the balance transaction's amount, in its currency, and the
-- fee is in that currency too; the charge's own amount and currency stay as instructed_amount/_currency
-- (fct_payment takes them instead when the charge names an invoice in that currency). Until its payout
-- lists the balance transaction, a charge is as charged.
-- A charge whose own metadata names no invoice may still say which through what it paid: its PaymentIntent
-- (Checkout, Payment Links: metadata and description) and the Stripe invoice it settled (Stripe Invoicing: the
-- invoice's metadata, description, custom fields and footer, where merchants write the ERP's number, and its own
-- number, which an ERP that mirrors Stripe's invoices keeps as the invoice number; found by
-- the charge's invoice, the invoice payments listing its PaymentIntent or itself, or the invoice's own charge
-- or PaymentIntent on older API versions). Their text joins the charge's reference and their customer keys its
-- customer's.
-- shape: payments
-- requires: raw_stripe_charges, raw_stripe_balance_transactions
{% set events = has('raw_stripe_events') and has_column('raw_stripe_events', 'data__object__status') %}
{% set refunded_event = events and has_column('raw_stripe_events', 'data__object__refunded') %}
{% set failure_event = events and has_column('raw_stripe_events', 'data__object__failure_code') %}
{% set method = has_column('raw_stripe_charges', 'payment_method_details__type') %}
{% set converted = "(bt.currency IS NOT NULL AND lower(bt.currency) <> lower(c.currency) AND bt.amount IS NOT NULL)" %}
{% set customers = has('raw_stripe_customers') %}
{% set sepa_mandate = has_column('raw_stripe_charges', 'payment_method_details__sepa_debit__mandate') %}
{#- who paid, by email: the charge's billing details or receipt address, else its customer's -#}
{% set payer_emails = (['c.billing_details__email'] if has_column('raw_stripe_charges', 'billing_details__email') else [])
      + (['c.receipt_email'] if has_column('raw_stripe_charges', 'receipt_email') else [])
      + (['cu.email'] if customers and has_column('raw_stripe_customers', 'email') else []) + ['CAST(NULL AS TEXT)'] %}
{% set intents = has('raw_stripe_payment_intents') %}
{% set stripe_invoices = has('raw_stripe_invoices') %}
{% set invoice_payments = has('raw_stripe_invoice_payments') %}
{% set invoice_refs = metadata_cols('raw_stripe_charges', 'c', providers.stripe.invoice_keys) %}
{#- what the charge's PaymentIntent and Stripe invoice say of the ERP's invoice -#}
{% set paid_refs = (metadata_cols('raw_stripe_payment_intents', 'pi', providers.stripe.invoice_keys) + ['pi.description']
                    if intents else [])
      + (metadata_cols('raw_stripe_invoices', 'si', providers.stripe.invoice_keys)
         + (['si.description'] if has_column('raw_stripe_invoices', 'description') else [])
         + (['si.custom_fields'] if has_column('raw_stripe_invoices', 'custom_fields') else [])
         + (['si.footer'] if has_column('raw_stripe_invoices', 'footer') else [])
         + (['si.number'] if has_column('raw_stripe_invoices', 'number') else [])
         if stripe_invoices else []) %}
{% set customer_refs = metadata_cols('raw_stripe_charges', 'c', providers.stripe.customer_keys)
      + (metadata_cols('raw_stripe_payment_intents', 'pi', providers.stripe.customer_keys) if intents else [])
      + (metadata_cols('raw_stripe_invoices', 'si', providers.stripe.customer_keys) if stripe_invoices else [])
      + (metadata_cols('raw_stripe_customers', 'cu', providers.stripe.customer_keys) if customers else []) %}
{#- the Stripe invoice each charge paid, by whichever link the account's API version gives -#}
{% set links = ([] if not has_column('raw_stripe_charges', 'invoice') else
                ["SELECT id AS charge_id, invoice FROM raw_stripe_charges WHERE invoice IS NOT NULL"])
      + ([] if not (invoice_payments and has_column('raw_stripe_invoice_payments', 'payment__payment_intent')) else
         ["SELECT c.id, ip.invoice FROM raw_stripe_charges AS c JOIN raw_stripe_invoice_payments AS ip "
          ~ "ON ip.payment__payment_intent = c.payment_intent WHERE coalesce(ip.status, 'paid') = 'paid'"])
      + ([] if not (invoice_payments and has_column('raw_stripe_invoice_payments', 'payment__charge')) else
         ["SELECT payment__charge, invoice FROM raw_stripe_invoice_payments WHERE payment__charge IS NOT NULL "
          ~ "AND coalesce(status, 'paid') = 'paid'"])
      + ([] if not (stripe_invoices and has_column('raw_stripe_invoices', 'payment_intent')) else
         ["SELECT c.id, si.id FROM raw_stripe_charges AS c JOIN raw_stripe_invoices AS si "
          ~ "ON si.payment_intent = c.payment_intent"])
      + ([] if not (stripe_invoices and has_column('raw_stripe_invoices', 'charge')) else
         ["SELECT charge, id FROM raw_stripe_invoices WHERE charge IS NOT NULL"]) %}
WITH paid_invoice AS (
    {% if links %}
    SELECT charge_id, min(invoice) AS invoice FROM (
        {{ links | join('\n        UNION ALL ') }}
    ) AS l GROUP BY charge_id
    {% else %}
    SELECT CAST(NULL AS TEXT) AS charge_id, CAST(NULL AS TEXT) AS invoice WHERE 1 = 0
    {% endif %}
),
charge_bt AS (
    SELECT source, max(payout) AS payout, sum(amount) AS amount, sum(fee) AS fee, max(currency) AS currency
    FROM raw_stripe_balance_transactions
    WHERE reporting_category = 'charge'
    GROUP BY source
),
latest AS (
    -- each charge's and dispute's newest state Stripe sent (events: the last 30 days)
    {% if events %}
    SELECT object_id, status, refunded, failure_code FROM (
        SELECT data__object__id AS object_id, data__object__status AS status,
               {% if refunded_event %}data__object__refunded{% else %}CAST(NULL AS BOOLEAN){% endif %} AS refunded,
               {% if failure_event %}data__object__failure_code{% else %}CAST(NULL AS TEXT){% endif %} AS failure_code,
               row_number() OVER (PARTITION BY data__object__id ORDER BY created DESC, id DESC) AS rn
        FROM raw_stripe_events
        WHERE data__object__object IN ('charge', 'dispute') AND data__object__status IS NOT NULL
    ) AS e WHERE rn = 1
    {% else %}
    SELECT CAST(NULL AS TEXT) AS object_id, CAST(NULL AS TEXT) AS status, CAST(NULL AS BOOLEAN) AS refunded,
           CAST(NULL AS TEXT) AS failure_code WHERE 1 = 0
    {% endif %}
){% if has('raw_stripe_disputes') %},
lost AS (
    SELECT DISTINCT d.charge FROM raw_stripe_disputes AS d
    LEFT JOIN latest AS l ON l.object_id = d.id
    WHERE coalesce(l.status, d.status) NOT IN ('won', 'warning_closed')
){% endif %}
SELECT
    c.entity,
    c.id AS payment_id,
    'stripe' AS channel,
    coalesce({% for col in customer_refs %}nullif({{ col }}, ''), {% endfor %}CAST(NULL AS TEXT)) AS customer_id,
    CASE WHEN {{ converted }} THEN {{ minor_to_decimal('bt.amount', 'bt.currency') }}
         ELSE {{ minor_to_decimal('c.amount', 'c.currency') }} END AS amount,
    {{ minor_to_decimal('coalesce(bt.fee, 0)', 'coalesce(bt.currency, c.currency)') }} AS fee,
    upper(CASE WHEN {{ converted }} THEN bt.currency ELSE c.currency END) AS currency,
    {{ unix_to_date('c.created') }} AS paid_on,
    CASE
        WHEN coalesce(ev.status, c.status) = 'failed' THEN 'failed'
        WHEN coalesce(ev.status, c.status) = 'pending' THEN 'pending'
        {% if has('raw_stripe_disputes') %}WHEN lost.charge IS NOT NULL THEN 'charged_back'{% endif %}
        WHEN coalesce(ev.refunded, c.refunded) THEN 'refunded'
        ELSE 'succeeded'
    END AS status,
    concat_ws(' ', {% for col in invoice_refs %}{{ col }}, {% endfor %}c.description{% for col in paid_refs %}, {{ col }}{% endfor %}) AS reference,
    {% if customers and has_column('raw_stripe_customers', 'name') %}coalesce(nullif(cu.name, ''), c.billing_details__name){% else %}c.billing_details__name{% endif %} AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    bt.payout AS payout_id,
    {% if method %}CASE WHEN coalesce(ev.status, c.status) = 'failed'
                         AND (c.payment_method_details__type LIKE '%debit'
                              OR c.payment_method_details__type = 'us_bank_account')
                        THEN c.payment_method_details__type || ': ' || coalesce(ev.failure_code, c.failure_code, 'failed')
                        ELSE coalesce(ev.failure_code, c.failure_code) END{% else %}coalesce(ev.failure_code, c.failure_code){% endif %} AS failure_reason,
    CAST(NULL AS TEXT) AS erp_lettrage,
    CASE WHEN {{ converted }} THEN {{ minor_to_decimal('c.amount', 'c.currency') }} END AS instructed_amount,
    CASE WHEN {{ converted }} THEN upper(c.currency) END AS instructed_currency,
    nullif(lower(trim(coalesce({{ payer_emails | join(', ') }}))), '') AS payer_email,
    {% if sepa_mandate %}c.payment_method_details__sepa_debit__mandate{% else %}CAST(NULL AS TEXT){% endif %} AS mandate_id,
    'stripe' AS source_system,
    c.id AS source_id
FROM raw_stripe_charges AS c
LEFT JOIN charge_bt AS bt ON bt.source = c.id
LEFT JOIN latest AS ev ON ev.object_id = c.id
{% if customers %}LEFT JOIN raw_stripe_customers AS cu ON cu.id = c.customer{% endif %}
{% if intents %}LEFT JOIN raw_stripe_payment_intents AS pi ON pi.id = c.payment_intent{% endif %}
LEFT JOIN paid_invoice AS pinv ON pinv.charge_id = c.id
{% if stripe_invoices %}LEFT JOIN raw_stripe_invoices AS si ON si.id = pinv.invoice{% endif %}
{% if has('raw_stripe_disputes') %}LEFT JOIN lost ON lost.charge = c.id{% endif %}
