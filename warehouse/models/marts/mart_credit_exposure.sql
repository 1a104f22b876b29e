-- Credit exposure per customer as of a date: open receivables (in the entity's currency)
-- against the credit limit from the ERP (dim_customer.credit_limit) or, when the ERP has
-- none, the segment's default in mappings/credit_policy.yaml.
-- flag_reason lists why sales should hear of it: over_limit, score_below_threshold,
-- missing_fx_rate (an open amount could not be converted and is left out of exposure).
{%- set pol = credit_policy() %}
WITH {{ base_ctes() }},
asof_dates AS (SELECT {{ d(as_of) }} AS d),
{{ open_ctes('open_now', 'asof_dates') }},
{{ behaviour_ctes(as_of, 'open_now') }},
by_ccy AS (
    SELECT entity, customer_id, currency, sum(amount_open) AS amount_open
    FROM open_now GROUP BY entity, customer_id, currency
),
converted AS (
    SELECT b.*, {{ fx_rate('b.entity', 'b.currency', d(as_of)) }} AS rate FROM by_ccy AS b
),
exposure AS (
    SELECT entity, customer_id,
           sum(CASE WHEN rate IS NOT NULL THEN round(amount_open * rate, 2) ELSE 0 END) AS exposure,
           sum(CASE WHEN rate IS NULL THEN 1 ELSE 0 END) AS missing_rates,
           min(currency) AS any_currency
    FROM converted GROUP BY entity, customer_id
),
customers AS (
    SELECT entity, customer_id FROM dim_customer
    UNION
    SELECT entity, customer_id FROM exposure
),
assessed AS (
    SELECT k.entity, k.customer_id, dc.name AS customer_name,
           coalesce({{ entity_currency('k.entity') }}, dc.currency, e.any_currency) AS currency,
           coalesce(dc.credit_limit,
                    CASE coalesce(b.segment, 'punctual')
                    {%- for seg, amount in pol.default_limits.items() %} WHEN '{{ seg }}' THEN {{ amount }}{% endfor %}
                    END) AS credit_limit,
           CASE WHEN dc.credit_limit IS NOT NULL THEN 'erp' ELSE 'policy' END AS limit_source,
           coalesce(e.exposure, 0) AS exposure, coalesce(e.missing_rates, 0) AS missing_rates,
           b.segment, b.score
    FROM customers AS k
    LEFT JOIN dim_customer AS dc ON dc.entity = k.entity AND dc.customer_id = k.customer_id
    LEFT JOIN exposure AS e ON e.entity = k.entity AND e.customer_id = k.customer_id
    LEFT JOIN behaviour AS b ON b.entity = k.entity AND b.customer_id = k.customer_id
)
SELECT
    entity, customer_id, customer_name, currency, credit_limit, exposure,
    credit_limit - exposure AS headroom,
    exposure > credit_limit AS over_limit,
    score,
    nullif(concat_ws(',',
        CASE WHEN exposure > credit_limit THEN 'over_limit' END,
        CASE WHEN score < {{ pol.score.threshold }} THEN 'score_below_threshold' END,
        CASE WHEN missing_rates > 0 THEN 'missing_fx_rate' END), '') AS flag_reason,
    segment, limit_source, {{ d(as_of) }} AS as_of,
    now() AS _loaded_at
FROM assessed
