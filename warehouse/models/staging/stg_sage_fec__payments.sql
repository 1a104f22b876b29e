-- Receipts the accountant booked in a bank journal (512… against 411…): the ERP's
-- own view of customer payments. They are evidence for reconciliation (with their
-- EcritureLet lettrage), not cash to apply again: the same money is a bank line. A receipt of an
-- invoice in another currency is in that currency, as the invoice is (_fec.jinja fec_doc_amount).
-- An opening (à-nouveaux) entry posts the bank balance (512…) beside the customers' balances
-- (411…) but receives nothing: its 411 lines are invoices (stg_sage_fec__invoices), not receipts.
-- Money that reaches the bank through a transit account (conventions.yaml transit_account_prefixes):
-- cheques booked 5112/411 per cheque then deposited 512/5112, bills of exchange (LCR) accepted 413/411,
-- remitted 5113/413 and collected 512/5113. The bank entry holds no customer line; the accountant's
-- lettering of the transit account links it to the entries that do (one hop for a cheque deposit, two
-- for an LCR): their 411 lines are the bank entry's receipts (its id, its date), so the bank credit of
-- a deposit or a bordereau pays what each cheque or bill settled.
-- shape: payments
-- requires: raw_sage_fec_lines
WITH lines AS (
    SELECT * FROM {{ fec_lines(with_lettrage=True) }} AS f
),
bank_entries AS (
    -- entries that move the bank, with the id and date their receipts take
    SELECT l.entity, l.fiscal_year, l.journal_code, l.ecriture_num, min({{ fec_entry_id('l') }}) AS entry_id,
           max(l.ecriture_date) AS booked_on
    FROM lines AS l
    WHERE NOT {{ fec_is_opening('l') }}
    GROUP BY l.entity, l.fiscal_year, l.journal_code, l.ecriture_num
    HAVING max(CASE WHEN l.compte_num LIKE '512%' THEN 1 ELSE 0 END) = 1
),
transit AS (
    -- lettered lines of transit accounts; a code letters one account in one fiscal year
    SELECT entity, fiscal_year, journal_code, ecriture_num, compte_num, ecriture_let,
           {{ fec_is_opening('l') }} AS opening
    FROM raw_sage_fec_lines AS l
    WHERE coalesce(ecriture_let, '') <> ''
      AND {{ fec_account_in('compte_num', fec_conventions.transit_account_prefixes) }}
),
hop1 AS (
    -- entries lettered with a bank entry's transit line (a cheque deposit's cheques, an LCR bordereau's remittance)
    SELECT DISTINCT b.entity, b.fiscal_year AS b_year, b.journal_code AS b_journal, b.ecriture_num AS b_num,
           t2.fiscal_year, t2.journal_code, t2.ecriture_num, t2.opening, t1.compte_num AS via
    FROM bank_entries AS b
    JOIN transit AS t1 ON {{ fec_same_entry('t1', 'b') }}
    JOIN transit AS t2 ON {{ fec_lettered_with('t2', 't1') }}
),
hop2 AS (
    -- entries lettered with those on another transit account (the remitted bills' acceptances)
    SELECT DISTINCT h.entity, h.b_year, h.b_journal, h.b_num, t4.fiscal_year, t4.journal_code, t4.ecriture_num, t4.opening
    FROM hop1 AS h
    JOIN transit AS t3 ON {{ fec_same_entry('t3', 'h') }} AND t3.compte_num <> h.via
    JOIN transit AS t4 ON {{ fec_lettered_with('t4', 't3') }}
),
reached AS (
    -- each customer entry reached from one bank entry only (the first, should a code letter two)
    SELECT entity, b_year, b_journal, b_num, fiscal_year, journal_code, ecriture_num
    FROM (
        SELECT r.*, row_number() OVER (PARTITION BY r.entity, r.fiscal_year, r.journal_code, r.ecriture_num
                                       ORDER BY r.b_year, r.b_journal, r.b_num) AS rn
        FROM (
            SELECT entity, b_year, b_journal, b_num, fiscal_year, journal_code, ecriture_num, opening FROM hop1
            UNION
            SELECT entity, b_year, b_journal, b_num, fiscal_year, journal_code, ecriture_num, opening FROM hop2
        ) AS r
        WHERE NOT r.opening
          AND NOT EXISTS (SELECT 1 FROM bank_entries AS e WHERE {{ fec_same_entry('e', 'r') }})
    ) AS ranked
    WHERE rn = 1
),
receipt_lines AS (
    -- a bank entry's own customer lines, then those reached through transit accounts (the bank entry's id
    -- and date: what the bank moved for them)
    SELECT l.*, {{ fec_entry_id('l') }} AS bank_entry_id, l.ecriture_date AS banked_on
    FROM lines AS l
    JOIN bank_entries AS b ON {{ fec_same_entry('b', 'l') }}
    UNION ALL
    SELECT l.*, b.entry_id, b.booked_on
    FROM lines AS l
    JOIN reached AS r ON {{ fec_same_entry('r', 'l') }}
    JOIN bank_entries AS b
      ON b.entity = r.entity AND b.fiscal_year = r.b_year AND b.journal_code = r.b_journal
     AND b.ecriture_num = r.b_num
)
SELECT
    l.entity,
    {{ fec_line_id('l') }} AS payment_id,
    'erp' AS channel,
    {{ fec_customer('l') }} AS customer_id,
    -{{ fec_doc_amount('l') }} AS amount,
    0 AS fee,
    {{ fec_doc_currency('l') }} AS currency,
    l.banked_on AS paid_on,
    'succeeded' AS status,
    concat_ws(' ', l.piece_ref, l.ecriture_lib) AS reference,
    {{ fec_customer_name('l') }} AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    l.lettrage AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    CAST(NULL AS TEXT) AS payer_email,
    CAST(NULL AS TEXT) AS mandate_id,
    'sage_fec' AS source_system,
    l.bank_entry_id AS source_id
FROM receipt_lines AS l
WHERE l.compte_num LIKE '411%' AND {{ fec_customer('l') }} IS NOT NULL
