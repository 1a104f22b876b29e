-- The bank side of each bank-journal entry (its 512… lines, summed): the money the bank moved, as
-- the ERP booked it. A card acquirer's settlement is booked 512 net, 627 commission, 411 gross;
-- a cheque remittance 512 for the deposit, 411 per cheque: the bank statement shows the 512 amount,
-- which the entry's customer lines (stg_sage_fec__payments) alone do not give. A foreign-currency
-- account's lines carry their amount in its currency (Montantdevise): the movement is in that currency.
-- shape: erp_movements
-- requires: raw_sage_fec_lines
SELECT
    l.entity,
    'sage_fec' AS source_system,
    l.journal_code || '-' || l.ecriture_num || l.year_tag AS source_id,
    {{ fec_group_currency('l') }} AS currency,
    {{ fec_group_amount('l') }} AS amount,
    max(l.ecriture_date) AS booked_on
FROM {{ fec_lines() }} AS l
WHERE l.compte_num LIKE '512%' AND NOT {{ fec_is_opening('l') }}
GROUP BY l.entity, l.fiscal_year, l.journal_code, l.ecriture_num, l.year_tag
