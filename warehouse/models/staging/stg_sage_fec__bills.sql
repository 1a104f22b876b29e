-- Bills of exchange the customers accepted (an LCR: the accountant debits 413 and credits the customer's
-- 411, lettering it with the invoice): one row per customer line of such an entry. The invoice is not paid
-- until the bank credits the bordereau (stg_sage_fec__payments follows the lettering from that bank entry
-- back to this line, under the same id), but its money is on its way: reminders do not chase it
-- (actions/in_transit.py). Opening (à-nouveaux) entries carry balances, not acceptances.
-- shape: bills
-- requires: raw_sage_fec_lines
WITH lines AS (
    SELECT * FROM {{ fec_lines() }} AS f WHERE NOT {{ fec_is_opening('f') }}
),
acceptances AS (
    SELECT DISTINCT entity, fiscal_year, journal_code, ecriture_num
    FROM lines
    WHERE coalesce(debit, 0) > 0
      AND {{ fec_account_in('compte_num', fec_conventions.bills_account_prefixes) }}
)
SELECT
    l.entity,
    {{ fec_line_id('l') }} AS bill_id,
    {{ fec_customer('l') }} AS customer_id,
    -{{ fec_doc_amount('l') }} AS amount,
    {{ fec_doc_currency('l') }} AS currency,
    l.ecriture_date AS accepted_on,
    concat_ws(' ', l.piece_ref, l.ecriture_lib) AS reference,
    'sage_fec' AS source_system,
    {{ fec_entry_id('l') }} AS source_id
FROM lines AS l
JOIN acceptances AS a
  ON a.entity = l.entity AND a.fiscal_year = l.fiscal_year AND a.journal_code = l.journal_code
 AND a.ecriture_num = l.ecriture_num
WHERE l.compte_num LIKE '411%' AND coalesce(l.credit, 0) > 0 AND {{ fec_customer('l') }} IS NOT NULL
