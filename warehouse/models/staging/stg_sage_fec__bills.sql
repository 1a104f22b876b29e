-- Bills of exchange the customers accepted (an LCR: the accountant debits 413 and credits the customer's
-- 411, lettering it with the invoice) and cheques received (5112/411 when the cheque arrives): one row per
-- customer line of such an entry, kind 'bill' or 'cheque'. The invoice is not paid until the bank credits
-- the bordereau or the deposit (stg_sage_fec__payments follows the lettering from that bank entry back to
-- this line, under the same id), but its money is on its way: reminders do not chase it
-- (actions/in_transit.py); and should the bank send it back unpaid, int_erp_receipts knows which it was.
-- Opening (à-nouveaux) entries carry balances, not acceptances.
-- shape: bills
-- requires: raw_sage_fec_lines
WITH lines AS (
    SELECT * FROM {{ fec_lines() }} AS f WHERE NOT {{ fec_is_opening('f') }}
),
acceptances AS (
    SELECT entity, fiscal_year, journal_code, ecriture_num,
           CASE WHEN max(CASE WHEN {{ fec_account_in('compte_num', fec_conventions.bills_account_prefixes) }}
                              THEN 1 ELSE 0 END) = 1 THEN 'bill' ELSE 'cheque' END AS kind
    FROM lines
    WHERE coalesce(debit, 0) > 0
      AND ({{ fec_account_in('compte_num', fec_conventions.bills_account_prefixes) }}
           OR {{ fec_account_in('compte_num', fec_conventions.cheques_account_prefixes) }})
    GROUP BY entity, fiscal_year, journal_code, ecriture_num
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
    {{ fec_entry_id('l') }} AS source_id,
    a.kind
FROM lines AS l
JOIN acceptances AS a ON {{ fec_same_entry('a', 'l') }}
WHERE l.compte_num LIKE '411%' AND coalesce(l.credit, 0) > 0 AND {{ fec_customer('l') }} IS NOT NULL
