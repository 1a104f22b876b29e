-- Collection KPIs per entity and month, for the 12 months up to the as-of date. Each month
-- is measured at its end (or at the as-of date for the current month), M-1 at its own end.
-- overdue_ratio: open amount past due / open amount, at the measurement date.
-- dispute_rate: open amount of disputed items / open amount, at the measurement date.
-- recovery_rate: money applied during the month to items that were past due at the end of M-1
--   / what was past due then (a credit note or a write-off set against them recovers nothing).
-- auto_match_rate: matches of payments paid during the month made automatically (state
--   auto) / all matches of those payments except rejected ones.
-- reminders_sent: dunning steps sent during the month; paid_within_7d_rate: share of them
--   whose invoice was closed (last payment) within 7 days after sending (and by as_of);
--   paid_within_7d_by_step: the same per step, e.g. "reminder_1=50%;reminder_2=25%".
-- overdue_concentration_top20: share of the past-due amount held by the top 20 % of
--   customers with something past due (rounded up), at the measurement date.
-- Amounts (and so every ratio of amounts) are in the entity's currency at the latest fx_rates rate on or
-- before the measurement date; an item in another currency without a rate is left out (warehouse.checks
-- missing_fx_rates lists it). Summed as booked, 12,000 USD counted as 12,000 EUR in a EUR entity's ratios.
WITH {{ base_ctes() }},
months AS (
    SELECT k, least({{ month_end_back(month_end_of(d(as_of)), 'k') }}, {{ d(as_of) }}) AS d
    FROM generate_series(0, 12) AS g(k)
),
{{ open_ctes('open_m', 'months') }},
meas AS (
    SELECT m.k, m.d, {{ month_start_of('m.d') }} AS month_start, p.d AS prev_d FROM months AS m JOIN months AS p ON p.k = m.k + 1
),
open_e AS (
    -- each open item's amount in the entity's currency at its measurement date (NULL: no rate known)
    SELECT r.*, r.amount_open * r.rate AS amount_e
    FROM (SELECT o.*, {{ fx_rate('o.entity', 'o.currency', 'o.at_date') }} AS rate FROM open_m AS o) AS r
),
open_stats AS (
    SELECT at_date AS d, entity, sum(amount_e) AS open_amount,
           sum(CASE WHEN days_past_due > 0 THEN amount_e ELSE 0 END) AS overdue_amount,
           sum(CASE WHEN days_past_due > 0 AND amount_open > 0 THEN amount_e ELSE 0 END) AS overdue_receivable,
           sum(CASE WHEN disputed THEN amount_e ELSE 0 END) AS disputed_amount
    FROM open_e GROUP BY at_date, entity
),
recovered AS (
    -- (what was applied, at the rate of the date it was past due at: the same rate as what it is set against)
    SELECT me.d, o.entity, sum(x.amount_applied * o.rate) AS recovered
    FROM meas AS me
    JOIN open_e AS o ON o.at_date = me.prev_d AND o.days_past_due > 0 AND o.amount_open > 0
    JOIN inv_matches AS x ON x.entity = o.entity AND x.invoice_id = o.invoice_id AND x.rule <> 'credit_note'
                         AND x.paid_on > me.prev_d AND x.paid_on <= me.d
    GROUP BY me.d, o.entity
),
all_matches AS (
    SELECT m.entity, m.state, {{ match_money_day() }} AS paid_on
    FROM fct_match AS m
    {{ match_money_joins() }}
    WHERE m.state <> 'rejected'
),
matching AS (
    SELECT me.d, a.entity, sum(CASE WHEN a.state = 'auto' THEN 1 ELSE 0 END) AS n_auto, count(*) AS n_all
    FROM meas AS me JOIN all_matches AS a ON a.paid_on > me.prev_d AND a.paid_on <= me.d
    GROUP BY me.d, a.entity
),
reminders AS (
    SELECT me.d, r.entity, r.step,
           CASE WHEN b.amount_open_now = 0 AND NOT b.credited AND b.last_paid_on >= CAST(r.sent_at AS DATE)
                     AND b.last_paid_on <= {{ add_days('CAST(r.sent_at AS DATE)', 7) }}
                     AND b.last_paid_on <= {{ d(as_of) }} THEN 1 ELSE 0 END AS paid_7d
    FROM meas AS me
    JOIN fct_dunning_action AS r
      ON r.sent_at IS NOT NULL AND CAST(r.sent_at AS DATE) > me.prev_d AND CAST(r.sent_at AS DATE) <= me.d
    LEFT JOIN inv_base AS b ON b.entity = r.entity AND b.invoice_id = r.invoice_id
),
rem_month AS (
    SELECT d, entity, count(*) AS sent, sum(paid_7d) AS paid_7d FROM reminders GROUP BY d, entity
),
rem_step AS (
    SELECT d, entity, step, count(*) AS sent, sum(paid_7d) AS paid_7d FROM reminders GROUP BY d, entity, step
),
rem_steps AS (
    SELECT d, entity,
           string_agg(step || '=' || CAST(CAST(round(100.0 * paid_7d / sent, 0) AS INTEGER) AS VARCHAR) || '%', ';'
                      ORDER BY step) AS by_step
    FROM rem_step GROUP BY d, entity
),
cust_overdue AS (
    SELECT at_date AS d, entity, customer_id, sum(amount_e) AS overdue
    FROM open_e WHERE days_past_due > 0 GROUP BY at_date, entity, customer_id
    HAVING sum(amount_e) > 0
),
ranked AS (
    SELECT c.*, row_number() OVER (PARTITION BY d, entity ORDER BY overdue DESC, customer_id) AS rn,
           count(*) OVER (PARTITION BY d, entity) AS n_cust
    FROM cust_overdue AS c
),
concentration AS (
    SELECT d, entity,
           sum(CASE WHEN rn <= ceil(n_cust * 0.2) THEN overdue ELSE 0 END) AS top_overdue, sum(overdue) AS all_overdue
    FROM ranked GROUP BY d, entity
),
ent AS (
    SELECT d, entity FROM open_stats UNION SELECT d, entity FROM matching
    UNION SELECT d, entity FROM rem_month UNION SELECT d, entity FROM recovered
)
SELECT
    e.entity, me.month_start AS month,
    {{ ratio('s.overdue_amount', 's.open_amount') }} AS overdue_ratio,
    {{ ratio('s.disputed_amount', 's.open_amount') }} AS dispute_rate,
    {{ ratio('coalesce(r.recovered, 0)', 'ps.overdue_receivable') }} AS recovery_rate,
    {{ ratio('mt.n_auto', 'mt.n_all') }} AS auto_match_rate,
    coalesce(rm.sent, 0) AS reminders_sent,
    {{ ratio('rm.paid_7d', 'rm.sent') }} AS paid_within_7d_rate,
    {{ ratio('c.top_overdue', 'c.all_overdue') }} AS overdue_concentration_top20,
    me.d AS measured_on,
    round(coalesce(s.open_amount, 0), 2) AS open_amount,
    round(coalesce(s.overdue_amount, 0), 2) AS overdue_amount,
    rs.by_step AS paid_within_7d_by_step,
    {{ d(as_of) }} AS as_of,
    now() AS _loaded_at
FROM ent AS e
JOIN meas AS me ON me.d = e.d
LEFT JOIN open_stats AS s ON s.d = e.d AND s.entity = e.entity
LEFT JOIN open_stats AS ps ON ps.d = me.prev_d AND ps.entity = e.entity
LEFT JOIN recovered AS r ON r.d = e.d AND r.entity = e.entity
LEFT JOIN matching AS mt ON mt.d = e.d AND mt.entity = e.entity
LEFT JOIN rem_month AS rm ON rm.d = e.d AND rm.entity = e.entity
LEFT JOIN rem_steps AS rs ON rs.d = e.d AND rs.entity = e.entity
LEFT JOIN concentration AS c ON c.d = e.d AND c.entity = e.entity
