-- Expected collections as of a date, per entity and currency.
-- Each open invoice (credit notes are left out: they reduce what is paid, not when)
-- is expected at its predicted pay date when mart_invoice_prediction holds one for
-- it as of this same date (warehouse/predict: written by the mart refresh before
-- this model runs); otherwise at its due date shifted by its customer's
-- amount-weighted delay (mart_customer_payment_behaviour.avg_days_late, 0 without
-- history). Never before the day after the as-of date. The rule alone is rendered
-- with use_predictions=false (reports/backtest.py compares both).
-- It counts with its collection probability:
-- 1 - the impairment matrix's loss rate for its customer's segment and its bucket
-- today, times (1 - disputed_rate) when disputed (mappings/impairment.yaml).
-- period 'horizon': cumulative within 30/60/90 days (week_start NULL);
-- period 'week': per ISO week (Monday) up to 13 weeks ahead, horizon_days = days from
-- the as-of date to that week's Sunday.
{%- set imp = impairment_policy() %}
{%- set fed = (use_predictions if use_predictions is defined else true) and has('mart_invoice_prediction') %}
WITH {{ base_ctes() }},
asof_dates AS (SELECT {{ d(as_of) }} AS d),
{{ open_ctes('open_now', 'asof_dates') }},
{{ behaviour_ctes(as_of, 'open_now') }},
items AS (
    SELECT o.entity, o.currency, o.amount_open,
           greatest({% if fed %}coalesce(pr.predicted_pay_date, {% endif -%}
                    {{ add_days('o.due_date', 'CAST(round(coalesce(b.avg_days_late, 0), 0) AS INTEGER)') }}
                    {%- if fed %}){% endif %},
                    {{ add_days(d(as_of), 1) }}) AS expected_on,
           CAST((1 - {{ loss_rate("coalesce(b.segment, 'punctual')", bucket('o.days_past_due')) }})
                * CASE WHEN o.disputed THEN 1 - {{ imp.specific.disputed_rate }} ELSE 1 END AS DECIMAL(18,6))
               AS probability
    FROM open_now AS o
    LEFT JOIN behaviour AS b ON b.entity = o.entity AND b.customer_id = o.customer_id
{%- if fed %}
    LEFT JOIN mart_invoice_prediction AS pr
      ON pr.as_of = {{ d(as_of) }} AND pr.entity = o.entity AND pr.invoice_id = o.invoice_id
{%- endif %}
    WHERE o.doc_type = 'invoice' AND o.amount_open > 0
),
horizons AS (
    SELECT 30 AS h UNION ALL SELECT 60 UNION ALL SELECT 90
),
by_horizon AS (
    SELECT i.entity, 'horizon' AS period, h.h AS horizon_days, CAST(NULL AS DATE) AS week_start, i.currency,
           round(sum(CASE WHEN i.expected_on <= {{ add_days(d(as_of), 'h.h') }} THEN i.amount_open * i.probability ELSE 0 END), 2)
               AS expected_cash,
           sum(CASE WHEN i.expected_on <= {{ add_days(d(as_of), 'h.h') }} THEN i.amount_open ELSE 0 END) AS open_amount
    FROM items AS i CROSS JOIN horizons AS h
    GROUP BY i.entity, h.h, i.currency
),
by_week AS (
    SELECT i.entity, 'week' AS period,
           {{ days_between(add_days(week_start_of('i.expected_on'), 6), d(as_of)) }} AS horizon_days,
           {{ week_start_of('i.expected_on') }} AS week_start, i.currency,
           round(sum(i.amount_open * i.probability), 2) AS expected_cash,
           sum(i.amount_open) AS open_amount
    FROM items AS i
    WHERE {{ week_start_of('i.expected_on') }} <= {{ add_days(week_start_of(d(as_of)), 7 * 13) }}
    GROUP BY 1, 3, 4, 5
),
rows_ AS (
    SELECT * FROM by_horizon
    UNION ALL
    SELECT * FROM by_week
)
SELECT
    {{ d(as_of) }} AS as_of, r.entity, r.period, r.horizon_days, r.week_start, r.currency,
    r.expected_cash, r.open_amount,
    {{ entity_currency('r.entity') }} AS entity_currency,
    round(r.expected_cash * {{ fx_rate('r.entity', 'r.currency', d(as_of)) }}, 2) AS expected_cash_entity,
    now() AS _loaded_at
FROM rows_ AS r
