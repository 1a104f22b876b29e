-- The bank side of each bank-journal entry (its 512… lines, summed): the money the bank moved, as
-- the ERP booked it. A card acquirer's settlement is booked 512 net, 627 commission, 411 gross;
-- a cheque remittance 512 for the deposit, 411 per cheque: the bank statement shows the 512 amount,
-- which the entry's customer lines (stg_sage_fec__payments) alone do not give. A foreign-currency
-- account's lines carry their amount in its currency (Montantdevise): the movement is in that currency.
-- customer_money says whether the entry books it against an account that may hold a customer's money
-- (conventions.yaml customer_money_account_prefixes: 41…, 46…, 47…, cheques and bills remitted for
-- collection 511…); a VAT refund (44567), a deposit returned (275) or a supplier's refund (401) does
-- not, and counter_account names where it went.
-- shape: erp_movements
-- requires: raw_sage_fec_lines
WITH lines AS (
    SELECT l.*, l.compte_num LIKE '512%' AS on_bank FROM {{ fec_lines() }} AS l
    WHERE NOT {{ fec_is_opening('l') }}
),
entries AS (
    SELECT entity, fiscal_year, journal_code, ecriture_num,
           max(CASE WHEN {{ fec_account_in('compte_num', fec_conventions.customer_money_account_prefixes) }} THEN 1 ELSE 0 END)
               AS customer_lines,
           min(CASE WHEN NOT on_bank THEN compte_num END) AS counter_account
    FROM lines
    GROUP BY entity, fiscal_year, journal_code, ecriture_num
    HAVING max(CASE WHEN on_bank THEN 1 ELSE 0 END) = 1
)
SELECT
    l.entity,
    'sage_fec' AS source_system,
    {{ fec_entry_id('l') }} AS source_id,
    {{ fec_group_currency('l') }} AS currency,
    {{ fec_group_amount('l') }} AS amount,
    max(l.ecriture_date) AS booked_on,
    max(e.customer_lines) = 1 AS customer_money,
    max(e.counter_account) AS counter_account
FROM lines AS l
JOIN entries AS e ON {{ fec_same_entry('e', 'l') }}
WHERE l.on_bank
GROUP BY l.entity, l.fiscal_year, l.journal_code, l.ecriture_num, l.year_tag
