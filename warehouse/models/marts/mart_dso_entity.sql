-- Days sales outstanding of the whole entity, per month end, in the entity's currency (mappings/entities.yaml):
-- mart_dso measures each invoicing currency apart; an entity invoicing in EUR, USD and GBP has one DSO, the one a
-- report heads with. Every currency's receivables and credit sales are converted at the month end's rate (the latest
-- fx_rates row on or before it) and added, then mart_dso's two measures are taken on the sums. One rate per month
-- end for both sides, so an entity invoicing in one currency has that currency's DSO whatever the rate.
-- A currency without a rate at a month end is left out of it (unconverted_currencies names it;
-- warehouse.checks missing_fx_rates lists its items); an entity entities.yaml gives no currency has no rows.
WITH {{ base_ctes() }},
month_ends AS (
    SELECT k, {{ month_end_back(d(as_of), 'k') }} AS d FROM generate_series(0, 23) AS g(k)
),
{{ open_ctes('open_me', 'month_ends') }},
docs AS (
    -- (as mart_dso: every document issued, credit notes negative; an ERP's write-off took no sale back)
    SELECT entity, upper(currency) AS currency, issue_date, CAST(amount_total AS DECIMAL(18,2)) AS amount_total
    FROM fct_invoice
    WHERE issue_date IS NOT NULL AND issue_date <= {{ d(as_of) }} AND NOT coalesce(write_off, FALSE)
),
keys AS (
    SELECT entity, {{ entity_currency('entity') }} AS entity_currency, min(issue_date) AS first_issue
    FROM docs GROUP BY entity
),
grid AS (
    SELECT m.d, k.entity, k.entity_currency
    FROM month_ends AS m CROSS JOIN keys AS k
    WHERE k.first_issue <= m.d AND k.entity_currency IS NOT NULL
),
currencies AS (
    SELECT entity, currency, min(issue_date) AS first_issue FROM docs GROUP BY entity, currency
),
rates AS (
    -- (each currency from its first document on: a month end before it has nothing of it to convert)
    SELECT g.d, g.entity, c.currency, {{ fx_rate('g.entity', 'c.currency', 'g.d') }} AS rate
    FROM grid AS g JOIN currencies AS c ON c.entity = g.entity AND c.first_issue <= g.d
),
ar AS (
    SELECT o.at_date AS d, o.entity, sum(o.amount_open * r.rate) AS receivables
    FROM open_me AS o JOIN rates AS r ON r.d = o.at_date AND r.entity = o.entity AND r.currency = o.currency
    GROUP BY o.at_date, o.entity
),
sales_m AS (
    SELECT entity, currency, {{ month_end_of('issue_date') }} AS me, sum(amount_total) AS sales
    FROM docs GROUP BY 1, 2, 3
),
sales_90 AS (
    SELECT g.d, g.entity, sum(x.amount_total * r.rate) AS sales_90d
    FROM grid AS g
    JOIN docs AS x ON x.entity = g.entity AND x.issue_date <= g.d AND x.issue_date > g.d - 90
    JOIN rates AS r ON r.d = g.d AND r.entity = g.entity AND r.currency = x.currency
    GROUP BY g.d, g.entity
),
back AS (
    SELECT g.d, g.entity, j.j,
           CAST(date_trunc('month', g.d) - CAST(j.j AS INTEGER) * INTERVAL '1 month'
                + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS sm
    FROM grid AS g CROSS JOIN (SELECT k AS j FROM month_ends) AS j
),
back_m AS (
    -- each earlier month's sales, every currency at the measured month end's rate
    SELECT b.d, b.entity, b.j, b.sm, coalesce(sum(s.sales * r.rate), 0) AS sales
    FROM back AS b
    LEFT JOIN sales_m AS s ON s.entity = b.entity AND s.me = b.sm
    LEFT JOIN rates AS r ON r.d = b.d AND r.entity = b.entity AND r.currency = s.currency
    GROUP BY b.d, b.entity, b.j, b.sm
),
back_sales AS (
    SELECT m.d, m.entity, m.j, EXTRACT(day FROM m.sm) AS days_in_month, m.sales,
           coalesce(sum(m.sales) OVER (PARTITION BY m.d, m.entity ORDER BY m.j
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS consumed_before
    FROM back_m AS m
),
countback AS (
    SELECT bs.d, bs.entity,
           sum(CASE WHEN coalesce(a.receivables, 0) - bs.consumed_before <= 0 THEN 0
                    WHEN coalesce(a.receivables, 0) - bs.consumed_before >= bs.sales THEN bs.days_in_month
                    ELSE CAST(coalesce(a.receivables, 0) - bs.consumed_before AS DECIMAL(38,10))
                         / CAST(bs.sales AS DECIMAL(38,10)) * bs.days_in_month END) AS dso_countback
    FROM back_sales AS bs
    LEFT JOIN ar AS a ON a.d = bs.d AND a.entity = bs.entity
    GROUP BY bs.d, bs.entity
),
unconverted AS (
    SELECT d, entity, string_agg(currency, ',' ORDER BY currency) AS currencies
    FROM rates WHERE rate IS NULL GROUP BY d, entity
)
SELECT
    g.entity, g.d AS month_end, g.entity_currency AS currency,
    round(coalesce(a.receivables, 0), 2) AS receivables,
    round(coalesce(sm.sales, 0), 2) AS credit_sales_month,
    round(coalesce(s9.sales_90d, 0), 2) AS credit_sales_90d,
    round(cb.dso_countback, 2) AS dso_countback,
    CASE WHEN coalesce(s9.sales_90d, 0) > 0
         THEN round(CAST(coalesce(a.receivables, 0) AS DECIMAL(38,10)) / CAST(s9.sales_90d AS DECIMAL(38,10)) * 90, 2)
    END AS dso_simple,
    u.currencies AS unconverted_currencies,
    {{ d(as_of) }} AS as_of,
    now() AS _loaded_at
FROM grid AS g
LEFT JOIN ar AS a ON a.d = g.d AND a.entity = g.entity
LEFT JOIN back_m AS sm ON sm.d = g.d AND sm.entity = g.entity AND sm.j = 0
LEFT JOIN sales_90 AS s9 ON s9.d = g.d AND s9.entity = g.entity
LEFT JOIN countback AS cb ON cb.d = g.d AND cb.entity = g.entity
LEFT JOIN unconverted AS u ON u.d = g.d AND u.entity = g.entity
