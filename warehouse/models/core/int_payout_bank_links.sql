-- Provider payouts found on the bank statement: same entity and amount, booked in a
-- window around the arrival date (matching.yaml windows.payout_bank_days_*, 3 days before to 7 after: a deposit a weekend or a bank
-- holiday delays), preferring lines whose text names the payout or the provider. Each payout
-- takes at most one line and each line at most one payout:
--  * first each payout's best line (naming it, then the nearest), when that payout is the line's best too;
--  * twins: payouts of one amount (not failed or canceled) and lines naming their provider and no payout
--    (by its id, or a reference only it has: a statement descriptor they all carry tells none apart),
--    nothing to tell them apart but the dates, go one to one in date order. The payouts and lines the
--    first step left are paired k-th with k-th by date within each run of them (a gap longer than the
--    window ends a run), when in each other's window; then all such pairs of one provider, currency and
--    amount are put in date order, the k-th payout by arrival with the k-th line by booking date (still
--    in each other's windows: the window is as long for every payout). So a payout whose nearest line is
--    its twin's takes the next one instead of none, and no two pairs cross. A line two payouts could be,
--    and no other line, stays the nearest payout's; a payout with two lines keeps the nearest.
-- Then, among what is left:
--  * grouped deposits: one line naming the provider that is the sum of that provider's payouts
--    arriving the same day (the bank credited them as one entry): each of them is that line's;
--  * split deposits: the lines naming one payout (its id or reference) that add up to it: all its.
-- One row per (payout, line); fct_payout keeps the payout's first line.
{#- the line's remittance holds the payout's reference or id (an empty one names nothing); with ``own``, its reference
    only when no other payout of the entity has it (a statement descriptor every payout carries names the account,
    not one payout: the payouts CTE counts them in ``sharing``) -#}
{% macro names_payout(b, p, own=False) -%}
(({% if own %}{{ p }}.sharing = 1 AND {% endif %}{{ norm_ref(p ~ '.reference') }} <> ''
  AND strpos({{ norm_ref(b ~ '.remittance') }}, {{ norm_ref(p ~ '.reference') }}) > 0)
 OR ({{ norm_ref(p ~ '.payout_id') }} <> '' AND strpos({{ norm_ref(b ~ '.remittance') }}, {{ norm_ref(p ~ '.payout_id') }}) > 0))
{%- endmacro %}
{#- the line's counterparty or remittance names the provider (``system``: the payout's source_system) -#}
{% macro names_provider(b, system) -%}
upper(coalesce({{ b }}.counterparty_name, '') || ' ' || coalesce({{ b }}.remittance, '')) LIKE '%' || upper({{ system }}) || '%'
{%- endmacro %}
{#- the line was booked in the window around the payout's arrival date (matching.yaml windows.payout_bank_days_*) -#}
{% macro in_window(b, p) -%}
{{ b }}.booking_date BETWEEN {{ add_days(p ~ '.arrival_date', -payout_days_before) }} AND {{ add_days(p ~ '.arrival_date', payout_days_after) }}
{%- endmacro %}
WITH payouts AS (
    -- (what reaches the bank: a payout the provider converted arrives in another currency, bank_amount)
    SELECT u.entity, u.payout_id, u.reference, u.source_system, u.arrival_date, u.status,
           coalesce(u.bank_amount, u.amount) AS amount, coalesce(u.bank_currency, u.currency) AS currency,
           count(*) OVER (PARTITION BY u.entity, {{ norm_ref('u.reference') }}) AS sharing
    FROM ({{ union('payouts') }}) AS u
),
candidates AS (
    SELECT
        p.entity, p.payout_id, b.bank_line_id,
        CASE
            WHEN {{ names_payout('b', 'p') }} THEN 0
            WHEN {{ names_provider('b', 'p.source_system') }} THEN 1
            ELSE 2
        END AS strength,
        abs({{ days_between('b.booking_date', 'p.arrival_date') }}) AS days_apart,
        p.source_system, p.currency, p.amount, p.arrival_date, b.booking_date,
        {{ names_provider('b', 'p.source_system') }} AS names_provider,
        coalesce(p.status, '') NOT IN {{ payout_not_banked() }} AS may_arrive
    FROM payouts AS p
    JOIN fct_bank_line AS b
      ON b.entity = p.entity
     AND b.amount = p.amount
     AND b.currency = p.currency
     AND {{ in_window('b', 'p') }}
    WHERE p.amount > 0
),
best_per_payout AS (
    SELECT *, row_number() OVER (PARTITION BY entity, payout_id ORDER BY strength, days_apart, bank_line_id) AS rn_p
    FROM candidates
    -- (a failed or canceled payout never reached the bank: it takes a line only when the line names it)
    WHERE strength < 2 AND (may_arrive OR strength = 0)
),
best_per_line AS (
    SELECT *, row_number() OVER (PARTITION BY entity, bank_line_id ORDER BY strength, days_apart, payout_id) AS rn_b
    FROM best_per_payout
    WHERE rn_p = 1
),
naming_lines AS (
    -- candidate lines naming a payout of the entity of their time (its id or own reference): never a twin's
    SELECT DISTINCT b.entity, b.bank_line_id
    FROM (SELECT DISTINCT entity, bank_line_id FROM candidates WHERE strength < 2) AS c
    JOIN fct_bank_line AS b ON b.entity = c.entity AND b.bank_line_id = c.bank_line_id
    JOIN payouts AS p
      ON p.entity = b.entity
     AND {{ in_window('b', 'p') }}
     AND {{ names_payout('b', 'p', own=True) }}
),
best_pairs AS (
    -- ``plain``: a line naming the provider and no payout of its own, and a payout not failed or canceled (twins
    -- are paired again in date order below)
    SELECT o.entity, o.payout_id, o.bank_line_id, o.strength, o.days_apart, o.source_system, o.currency, o.amount,
           o.arrival_date, o.booking_date,
           o.names_provider AND o.may_arrive
               AND NOT EXISTS (SELECT 1 FROM naming_lines AS n WHERE n.entity = o.entity AND n.bank_line_id = o.bank_line_id)
               AS plain
    FROM best_per_line AS o WHERE o.rn_b = 1
),
twin_edges AS (
    -- a payout (not failed or canceled) and a line the first step left, the line naming the provider and no
    -- payout of its own, in the window
    SELECT c.* FROM candidates AS c
    WHERE c.strength < 2 AND c.names_provider AND c.may_arrive
      AND NOT EXISTS (SELECT 1 FROM best_pairs AS o WHERE o.entity = c.entity AND o.payout_id = c.payout_id)
      AND NOT EXISTS (SELECT 1 FROM best_pairs AS o WHERE o.entity = c.entity AND o.bank_line_id = c.bank_line_id)
      AND NOT EXISTS (SELECT 1 FROM naming_lines AS n WHERE n.entity = c.entity AND n.bank_line_id = c.bank_line_id)
),
twin_items AS (
    -- those payouts (by arrival) and lines (by booking date) of one amount in runs, a gap of more than the window's
    -- longer side (7 days by default, so no pair spans it) starting another run
    SELECT entity, kind, id, currency, amount, on_day,
           sum(new_run) OVER (PARTITION BY entity, currency, amount ORDER BY on_day, kind, id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run
    FROM (
        SELECT t.*,
               CASE WHEN {{ days_between('t.on_day', 'lag(t.on_day) OVER (PARTITION BY t.entity, t.currency, t.amount ORDER BY t.on_day, t.kind, t.id)') }} <= {{ [payout_days_before, payout_days_after] | max }}
                    THEN 0 ELSE 1 END AS new_run
        FROM (
            SELECT DISTINCT entity, 'payout' AS kind, payout_id AS id, currency, amount, arrival_date AS on_day FROM twin_edges
            UNION ALL
            SELECT DISTINCT entity, 'line' AS kind, bank_line_id AS id, currency, amount, booking_date AS on_day FROM twin_edges
        ) AS t
    ) AS r
),
twin_ranks AS (
    SELECT entity, kind, id,
           row_number() OVER (PARTITION BY entity, currency, amount, run, kind ORDER BY on_day, id) AS rn, run
    FROM twin_items
),
twins AS (
    -- in each run, the k-th payout with the k-th line, when in each other's window
    SELECT e.* FROM twin_edges AS e
    JOIN twin_ranks AS tp ON tp.entity = e.entity AND tp.kind = 'payout' AND tp.id = e.payout_id
    JOIN twin_ranks AS tl ON tl.entity = e.entity AND tl.kind = 'line' AND tl.id = e.bank_line_id
                         AND tl.run = tp.run AND tl.rn = tp.rn
),
plain_pairs AS (
    -- every pair of a line naming the provider and no payout of its own and a payout not failed or canceled,
    -- from either step
    SELECT entity, payout_id, bank_line_id, source_system, currency, amount, arrival_date, booking_date
    FROM best_pairs WHERE plain
    UNION ALL
    SELECT entity, payout_id, bank_line_id, source_system, currency, amount, arrival_date, booking_date FROM twins
),
in_date_order AS (
    -- the same payouts and lines, the k-th payout by arrival with the k-th line by booking date
    SELECT c.entity, c.payout_id, c.bank_line_id, c.strength, c.days_apart
    FROM (SELECT entity, payout_id, arrival_date,
                 row_number() OVER (PARTITION BY entity, source_system, currency, amount
                                    ORDER BY arrival_date, payout_id) AS rn,
                 source_system, currency, amount
          FROM plain_pairs) AS p
    JOIN (SELECT entity, bank_line_id, booking_date,
                 row_number() OVER (PARTITION BY entity, source_system, currency, amount
                                    ORDER BY booking_date, bank_line_id) AS rn,
                 source_system, currency, amount
          FROM plain_pairs) AS l
      ON l.entity = p.entity AND l.source_system = p.source_system AND l.currency = p.currency
     AND l.amount = p.amount AND l.rn = p.rn
    -- (always a candidate pair, the window being as long for every payout; one that were not would be dropped)
    JOIN candidates AS c ON c.entity = p.entity AND c.payout_id = p.payout_id AND c.bank_line_id = l.bank_line_id
),
one_to_one AS (
    SELECT entity, payout_id, bank_line_id, strength, days_apart FROM best_pairs WHERE NOT plain
    UNION ALL
    SELECT entity, payout_id, bank_line_id, strength, days_apart FROM in_date_order
),
payouts_left AS (
    SELECT p.* FROM payouts AS p
    WHERE p.amount > 0
      AND NOT EXISTS (SELECT 1 FROM one_to_one AS o WHERE o.entity = p.entity AND o.payout_id = p.payout_id)
),
lines_left AS (
    SELECT b.* FROM fct_bank_line AS b
    WHERE b.amount > 0
      AND NOT EXISTS (SELECT 1 FROM one_to_one AS o WHERE o.entity = b.entity AND o.bank_line_id = b.bank_line_id)
),
same_day AS (
    SELECT entity, source_system, currency, arrival_date, sum(amount) AS amount
    FROM payouts_left
    GROUP BY entity, source_system, currency, arrival_date
    HAVING count(*) >= 2
),
grouped AS (
    -- each same-day group with one line of its sum naming the provider, and each such line with one group
    SELECT entity, source_system, arrival_date, bank_line_id, days_apart FROM (
        SELECT g.entity, g.source_system, g.arrival_date, b.bank_line_id,
               abs({{ days_between('b.booking_date', 'g.arrival_date') }}) AS days_apart,
               count(*) OVER (PARTITION BY g.entity, g.source_system, g.currency, g.arrival_date) AS lines,
               count(*) OVER (PARTITION BY b.entity, b.bank_line_id) AS groups
        FROM same_day AS g
        JOIN lines_left AS b
          ON b.entity = g.entity AND b.currency = g.currency AND b.amount = g.amount
         AND {{ in_window('b', 'g') }}
         AND {{ names_provider('b', 'g.source_system') }}
    ) AS c
    WHERE lines = 1 AND groups = 1
),
naming AS (
    -- lines left that name exactly one payout left (its reference or id in the remittance), in its window
    SELECT entity, payout_id, bank_line_id, amount, days_apart,
           sum(amount) OVER (PARTITION BY entity, payout_id) AS total,
           count(*) OVER (PARTITION BY entity, bank_line_id) AS payouts
    FROM (
        SELECT p.entity, p.payout_id, b.bank_line_id, b.amount,
               abs({{ days_between('b.booking_date', 'p.arrival_date') }}) AS days_apart
        FROM payouts_left AS p
        JOIN lines_left AS b
          ON b.entity = p.entity AND b.currency = p.currency AND b.amount < p.amount
         AND {{ in_window('b', 'p') }}
         AND {{ names_payout('b', 'p') }}
    ) AS c
),
split AS (
    SELECT n.entity, n.payout_id, n.bank_line_id, n.days_apart
    FROM naming AS n
    JOIN payouts_left AS p ON p.entity = n.entity AND p.payout_id = n.payout_id
    WHERE n.total = p.amount
      AND NOT EXISTS (SELECT 1 FROM naming AS o WHERE o.entity = n.entity AND o.payout_id = n.payout_id AND o.payouts > 1)
)
SELECT entity, payout_id, bank_line_id, strength, days_apart FROM one_to_one
UNION ALL
SELECT p.entity, p.payout_id, g.bank_line_id, 1 AS strength, g.days_apart
FROM grouped AS g
JOIN payouts_left AS p
  ON p.entity = g.entity AND p.source_system = g.source_system AND p.arrival_date = g.arrival_date
UNION ALL
SELECT entity, payout_id, bank_line_id, 0 AS strength, days_apart FROM split
