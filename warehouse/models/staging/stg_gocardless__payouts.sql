-- GoCardless payouts to the creditor's bank account.
-- shape: payouts
-- requires: raw_gocardless_payouts
SELECT
    entity,
    id AS payout_id,
    {{ minor_to_decimal('amount', 'currency') }} AS amount,
    {{ minor_to_decimal('coalesce(deducted_fees, 0)', 'currency') }} AS fees,
    upper(currency) AS currency,
    CAST(arrival_date AS DATE) AS arrival_date,
    status,
    reference,
    -- paid out through foreign exchange (fx.fx_currency: collected in SEK, paid out in EUR): the bank receives
    -- fx.fx_amount in fx.fx_currency, once GoCardless has fixed the rate (null before)
    {% if has_column('raw_gocardless_payouts', 'fx__fx_amount') and has_column('raw_gocardless_payouts', 'fx__fx_currency') -%}
    CASE WHEN upper(fx__fx_currency) <> upper(currency) THEN {{ minor_to_decimal('fx__fx_amount', 'fx__fx_currency') }}
         END AS bank_amount,
    CASE WHEN upper(fx__fx_currency) <> upper(currency) AND fx__fx_amount IS NOT NULL THEN upper(fx__fx_currency)
         END AS bank_currency,
    {%- else -%}
    CAST(NULL AS DECIMAL(18,2)) AS bank_amount, CAST(NULL AS TEXT) AS bank_currency,
    {%- endif %}
    'gocardless' AS source_system,
    id AS source_id
FROM raw_gocardless_payouts
