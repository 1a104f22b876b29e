-- Receipts the accountant booked in a bank journal (512… against 411…): the ERP's
-- own view of customer payments. They are evidence for reconciliation (with their
-- EcritureLet lettrage), not cash to apply again: the same money is a bank line. A receipt of an
-- invoice in another currency is in that currency, as the invoice is (_fec.jinja fec_doc_amount).
-- An opening (à-nouveaux) entry posts the bank balance (512…) beside the customers' balances
-- (411…) but receives nothing: its 411 lines are invoices (stg_sage_fec__invoices), not receipts.
-- shape: payments
-- requires: raw_sage_fec_lines
WITH lines AS (
    SELECT * FROM {{ fec_lines(with_lettrage=True) }} AS f
),
bank_entries AS (
    SELECT DISTINCT l.entity, l.fiscal_year, l.journal_code, l.ecriture_num
    FROM lines AS l
    WHERE l.compte_num LIKE '512%' AND NOT {{ fec_is_opening('l') }}
)
SELECT
    l.entity,
    'FEC-' || l.journal_code || '-' || l.ecriture_num || l.year_tag || '-' || CAST(l.line_in_entry AS TEXT) AS payment_id,
    'erp' AS channel,
    {{ fec_customer('l') }} AS customer_id,
    -{{ fec_doc_amount('l') }} AS amount,
    0 AS fee,
    {{ fec_doc_currency('l') }} AS currency,
    l.ecriture_date AS paid_on,
    'succeeded' AS status,
    concat_ws(' ', l.piece_ref, l.ecriture_lib) AS reference,
    {{ fec_customer_name('l') }} AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    l.lettrage AS erp_lettrage,
    'sage_fec' AS source_system,
    l.journal_code || '-' || l.ecriture_num || l.year_tag AS source_id
FROM lines AS l
JOIN bank_entries AS b
  ON b.entity = l.entity AND b.fiscal_year = l.fiscal_year AND b.journal_code = l.journal_code AND b.ecriture_num = l.ecriture_num
WHERE l.compte_num LIKE '411%' AND {{ fec_customer('l') }} IS NOT NULL
