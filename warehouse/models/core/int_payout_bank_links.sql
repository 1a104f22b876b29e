-- Provider payouts found on the bank statement: same entity and amount, booked in a
-- window around the arrival date, preferring lines whose text names the payout or
-- the provider. Each payout takes at most one line and each line at most one payout.
WITH payouts AS (
    {{ union('payouts') }}
),
candidates AS (
    SELECT
        p.entity, p.payout_id, b.bank_line_id,
        CASE
            WHEN strpos({{ norm_ref('b.remittance') }}, {{ norm_ref('p.reference') }}) > 0
              OR strpos({{ norm_ref('b.remittance') }}, {{ norm_ref('p.payout_id') }}) > 0 THEN 0
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
)
SELECT entity, payout_id, bank_line_id, strength, days_apart
FROM best_per_line
WHERE rn_b = 1
