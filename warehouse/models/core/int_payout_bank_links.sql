-- Provider payouts found on the bank statement: same entity and amount, booked in a
-- window around the arrival date (3 days before to 7 after: a deposit a weekend or a bank
-- holiday delays), preferring lines whose text names the payout or the provider. Each payout
-- takes at most one line and each line at most one payout. Then, among what is left:
--  * grouped deposits: one line naming the provider that is the sum of that provider's payouts
--    arriving the same day (the bank credited them as one entry): each of them is that line's;
--  * split deposits: the lines naming one payout (its id or reference) that add up to it: all its.
-- One row per (payout, line); fct_payout keeps the payout's first line.
{#- the line's remittance holds the payout's reference or id (an empty one names nothing) -#}
{% macro names_payout(b, p) -%}
(({{ norm_ref(p ~ '.reference') }} <> '' AND strpos({{ norm_ref(b ~ '.remittance') }}, {{ norm_ref(p ~ '.reference') }}) > 0)
 OR ({{ norm_ref(p ~ '.payout_id') }} <> '' AND strpos({{ norm_ref(b ~ '.remittance') }}, {{ norm_ref(p ~ '.payout_id') }}) > 0))
{%- endmacro %}
WITH payouts AS (
    {{ union('payouts') }}
),
candidates AS (
    SELECT
        p.entity, p.payout_id, b.bank_line_id,
        CASE
            WHEN {{ names_payout('b', 'p') }} THEN 0
            WHEN upper(coalesce(b.counterparty_name, '') || ' ' || coalesce(b.remittance, '')) LIKE '%' || upper(p.source_system) || '%' THEN 1
            ELSE 2
        END AS strength,
        abs({{ days_between('b.booking_date', 'p.arrival_date') }}) AS days_apart
    FROM payouts AS p
    JOIN fct_bank_line AS b
      ON b.entity = p.entity
     AND b.amount = p.amount
     AND b.currency = p.currency
     AND b.booking_date BETWEEN {{ add_days('p.arrival_date', -3) }} AND {{ add_days('p.arrival_date', 7) }}
    WHERE p.amount > 0
),
best_per_payout AS (
    SELECT *, row_number() OVER (PARTITION BY entity, payout_id ORDER BY strength, days_apart, bank_line_id) AS rn_p
    FROM candidates
    WHERE strength < 2
),
best_per_line AS (
    SELECT *, row_number() OVER (PARTITION BY entity, bank_line_id ORDER BY strength, days_apart, payout_id) AS rn_b
    FROM best_per_payout
    WHERE rn_p = 1
),
one_to_one AS (
    SELECT entity, payout_id, bank_line_id, strength, days_apart FROM best_per_line WHERE rn_b = 1
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
         AND b.booking_date BETWEEN {{ add_days('g.arrival_date', -3) }} AND {{ add_days('g.arrival_date', 7) }}
         AND upper(coalesce(b.counterparty_name, '') || ' ' || coalesce(b.remittance, '')) LIKE '%' || upper(g.source_system) || '%'
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
         AND b.booking_date BETWEEN {{ add_days('p.arrival_date', -3) }} AND {{ add_days('p.arrival_date', 7) }}
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
