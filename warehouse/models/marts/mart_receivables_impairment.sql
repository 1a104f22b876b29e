-- Dépréciation des créances per entity, customer, aging bucket and currency at each of the
-- month ends on or before the as-of date (count in mappings/impairment.yaml).
-- provision_collective: loss rate (segment x bucket matrix) x open amount of the items no
--   specific provision covers (netted per customer and bucket, never below 0).
-- provision_specific: disputed items x disputed_rate; items over 90 days past due of an
--   at_risk customer x at_risk_rate.
-- movement: provision_total minus the previous month end's for the same row (a row that
--   vanished shows with zero provision and its reversal), so movements add up to the change.
-- The segment is the customer's as of the as-of date, applied to every month end shown.
{%- set imp = impairment_policy() %}
{%- set n = imp.month_ends %}
WITH {{ base_ctes() }},
month_ends AS (
    SELECT k, {{ month_end_back(d(as_of), 'k') }} AS d FROM generate_series(0, {{ n }}) AS g(k)
),
asof_dates AS (SELECT {{ d(as_of) }} AS d),
{{ open_ctes('open_now', 'asof_dates') }},
{{ behaviour_ctes(as_of, 'open_now') }},
{{ open_ctes('open_me', 'month_ends') }},
items AS (
    SELECT o.at_date, o.entity, o.customer_id, o.currency, {{ bucket('o.days_past_due') }} AS bucket,
           coalesce(b.segment, 'punctual') AS segment, o.amount_open,
           CASE WHEN o.disputed THEN {{ imp.specific.disputed_rate }}
                WHEN coalesce(b.segment, '') = 'at_risk' AND o.days_past_due > 90 THEN {{ imp.specific.at_risk_rate }}
           END AS specific_rate
    FROM open_me AS o
    LEFT JOIN behaviour AS b ON b.entity = o.entity AND b.customer_id = o.customer_id
),
per_row AS (
    SELECT at_date, entity, customer_id, bucket, currency, min(segment) AS segment,
           sum(amount_open) AS amount_open,
           greatest(sum(CASE WHEN specific_rate IS NULL THEN amount_open ELSE 0 END), 0) AS collective_base,
           sum(CASE WHEN specific_rate IS NOT NULL AND amount_open > 0 THEN amount_open * specific_rate ELSE 0 END)
               AS specific_raw
    FROM items GROUP BY at_date, entity, customer_id, bucket, currency
),
valued AS (
    SELECT p.*, {{ loss_rate('p.segment', 'p.bucket') }} AS loss_rate,
           round(p.collective_base * {{ loss_rate('p.segment', 'p.bucket') }}, 2) AS provision_collective,
           round(p.specific_raw, 2) AS provision_specific
    FROM per_row AS p
),
next_me AS (
    SELECT older.d AS d, newer.d AS next_d FROM month_ends AS older JOIN month_ends AS newer ON newer.k = older.k - 1
),
keys AS (
    SELECT at_date AS d, entity, customer_id, bucket, currency FROM valued
    UNION
    SELECT n.next_d, v.entity, v.customer_id, v.bucket, v.currency
    FROM valued AS v JOIN next_me AS n ON n.d = v.at_date
),
prev_me AS (
    SELECT newer.d AS d, older.d AS prev_d FROM month_ends AS newer JOIN month_ends AS older ON older.k = newer.k + 1
)
SELECT
    k.entity, k.d AS month_end, k.customer_id, k.bucket, k.currency,
    coalesce(cur.amount_open, 0) AS amount_open,
    coalesce(cur.loss_rate, prev.loss_rate) AS loss_rate,
    coalesce(cur.provision_collective, 0) AS provision_collective,
    coalesce(cur.provision_specific, 0) AS provision_specific,
    coalesce(cur.provision_collective, 0) + coalesce(cur.provision_specific, 0) AS provision_total,
    coalesce(cur.provision_collective, 0) + coalesce(cur.provision_specific, 0)
        - coalesce(prev.provision_collective, 0) - coalesce(prev.provision_specific, 0) AS movement,
    coalesce(cur.segment, prev.segment) AS segment,
    {{ d(as_of) }} AS as_of,
    now() AS _loaded_at
FROM keys AS k
JOIN prev_me AS pm ON pm.d = k.d
LEFT JOIN valued AS cur
  ON cur.at_date = k.d AND cur.entity = k.entity AND cur.customer_id = k.customer_id
 AND cur.bucket = k.bucket AND cur.currency = k.currency
LEFT JOIN valued AS prev
  ON prev.at_date = pm.prev_d AND prev.entity = k.entity AND prev.customer_id = k.customer_id
 AND prev.bucket = k.bucket AND prev.currency = k.currency
