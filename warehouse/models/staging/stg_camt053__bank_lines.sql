-- Booked entries of camt.053 statements, one row per transaction of a batch.
-- shape: bank_lines
-- requires: raw_camt053_entries
SELECT
    entity,
    bank_line_id,
    upper(account_iban) AS account_iban,
    booking_date,
    coalesce(value_date, booking_date) AS value_date,
    amount,
    upper(currency) AS currency,
    counterparty_name,
    upper(replace(counterparty_iban, ' ', '')) AS counterparty_iban,
    concat_ws(' ', remittance_unstructured, creditor_reference) AS remittance,
    nullif(end_to_end_id, 'NOTPROVIDED') AS end_to_end_id,
    bank_tx_code,
    return_reason,
    'camt053' AS source_system,
    bank_line_id AS source_id
FROM raw_camt053_entries
WHERE coalesce(status, 'BOOK') = 'BOOK'
