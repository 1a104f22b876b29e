-- Days sales outstanding per entity, currency and month end, for the 24 month ends on or
-- before the as-of date.
-- receivables: open at the month end (same definition as mart_aged_balance at that date: credit notes,
--   payments and discounts count on their own dates, _marts.jinja open_ctes).
-- credit sales: net amount_total (credit notes negative) of documents issued in the period; a debt the ERP wrote off
--   (fct_invoice.write_off) took no sale back: it leaves the receivables at its date, not the sales.
-- dso_countback: walk back from the month end, consuming each month's credit sales with the
--   receivables; full months add their days, the last one its fraction (at most 24 months).
-- dso_simple: receivables / credit sales of the 90 days ending at the month end * 90.
WITH {{ base_ctes() }},
month_ends AS (
    SELECT k, {{ month_end_back(d(as_of), 'k') }} AS d FROM generate_series(0, 23) AS g(k)
),
{{ open_ctes('open_me', 'month_ends') }},
ar AS (
    SELECT at_date AS d, entity, currency, sum(amount_open) AS receivables
    FROM open_me GROUP BY at_date, entity, currency
),
docs AS (
    SELECT entity, upper(currency) AS currency, issue_date, CAST(amount_total AS DECIMAL(18,2)) AS amount_total
    FROM fct_invoice WHERE issue_date IS NOT NULL AND issue_date <= {{ d(as_of) }} AND NOT coalesce(write_off, FALSE)
),
sales_m AS (
    SELECT entity, currency, {{ month_end_of('issue_date') }} AS me, sum(amount_total) AS sales
    FROM docs GROUP BY 1, 2, 3
),
keys AS (
    SELECT entity, currency, min(issue_date) AS first_issue FROM docs GROUP BY entity, currency
),
grid AS (
    SELECT m.d, k.entity, k.currency FROM month_ends AS m CROSS JOIN keys AS k WHERE k.first_issue <= m.d
),
sales_90 AS (
    SELECT g.d, g.entity, g.currency, sum(x.amount_total) AS sales_90d
    FROM grid AS g
    JOIN docs AS x ON x.entity = g.entity AND x.currency = g.currency
                  AND x.issue_date <= g.d AND x.issue_date > g.d - 90
    GROUP BY g.d, g.entity, g.currency
),
back AS (
    SELECT g.d, g.entity, g.currency, j.j,
           CAST(date_trunc('month', g.d) - CAST(j.j AS INTEGER) * INTERVAL '1 month'
                + INTERVAL '1 month' - INTERVAL '1 day' AS DATE) AS sm
    FROM grid AS g CROSS JOIN (SELECT k AS j FROM month_ends) AS j
),
back_sales AS (
    SELECT b.d, b.entity, b.currency, b.j, EXTRACT(day FROM b.sm) AS days_in_month,
           coalesce(s.sales, 0) AS sales,
           coalesce(sum(coalesce(s.sales, 0)) OVER (
               PARTITION BY b.d, b.entity, b.currency ORDER BY b.j
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS consumed_before
    FROM back AS b
    LEFT JOIN sales_m AS s ON s.entity = b.entity AND s.currency = b.currency AND s.me = b.sm
),
countback AS (
    SELECT bs.d, bs.entity, bs.currency,
           sum(CASE WHEN coalesce(a.receivables, 0) - bs.consumed_before <= 0 THEN 0
                    WHEN coalesce(a.receivables, 0) - bs.consumed_before >= bs.sales THEN bs.days_in_month
                    ELSE CAST(coalesce(a.receivables, 0) - bs.consumed_before AS DECIMAL(38,10))
                         / CAST(bs.sales AS DECIMAL(38,10)) * bs.days_in_month END) AS dso_countback
    FROM back_sales AS bs
    LEFT JOIN ar AS a ON a.d = bs.d AND a.entity = bs.entity AND a.currency = bs.currency
    GROUP BY bs.d, bs.entity, bs.currency
)
SELECT
    g.entity, g.d AS month_end, g.currency,
    coalesce(a.receivables, 0) AS receivables,
    coalesce(sm.sales, 0) AS credit_sales_month,
    coalesce(s9.sales_90d, 0) AS credit_sales_90d,
    round(cb.dso_countback, 2) AS dso_countback,
    CASE WHEN coalesce(s9.sales_90d, 0) > 0
         THEN round(CAST(coalesce(a.receivables, 0) AS DECIMAL(38,10)) / CAST(s9.sales_90d AS DECIMAL(38,10)) * 90, 2)
    END AS dso_simple,
    {{ d(as_of) }} AS as_of,
    now() AS _loaded_at
FROM grid AS g
LEFT JOIN ar AS a ON a.d = g.d AND a.entity = g.entity AND a.currency = g.currency
LEFT JOIN sales_m AS sm ON sm.me = g.d AND sm.entity = g.entity AND sm.currency = g.currency
LEFT JOIN sales_90 AS s9 ON s9.d = g.d AND s9.entity = g.entity AND s9.currency = g.currency
LEFT JOIN countback AS cb ON cb.d = g.d AND cb.entity = g.entity AND cb.currency = g.currency
