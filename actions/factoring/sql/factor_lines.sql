-- Bank lines that come from (or go to) the factor: its IBAN, or its name as the bank writes it.
SELECT entity, bank_line_id, booking_date, amount, upper(currency) AS currency,
       upper(coalesce(remittance, '') || ' ' || coalesce(end_to_end_id, '')) AS remittance,
       counterparty_name, counterparty_iban
FROM fct_bank_line
WHERE entity = :entity
  AND ({{ iban_filter }} OR {{ name_filter }})
ORDER BY booking_date, bank_line_id
