-- Booked entries of camt.053 statements, one row per transaction of a batch.
-- Two accounts of one entity whose banks give an entry the same reference (banks numbering by date and sequence)
-- are two lines: the account first in IBAN order keeps the bank's reference as bank_line_id, the other's is
-- suffixed with a digest of its account ('@' and 8 hex digits: no IBAN in an id, ids are logged).
-- shape: bank_lines
-- requires: raw_camt053_entries
WITH entries AS (
    SELECT e.*,
           CASE WHEN coalesce(account_iban, '') <> min(coalesce(account_iban, '')) OVER (PARTITION BY entity, bank_line_id)
                THEN '@' || substr(md5(upper(coalesce(account_iban, ''))), 1, 8) ELSE '' END AS account_suffix
    FROM raw_camt053_entries AS e
    WHERE coalesce(status, 'BOOK') = 'BOOK'
    {% if has_column('raw_camt053_entries', 'copy_indicator') %}
      -- A copy of a statement (CpyDplctInd: a portal's duplicate under a statement id of its own) gives again the lines
      -- its original gave: those without the bank's reference are keyed by statement and place, so they came twice
      -- (paid twice, an overpayment queued). A line of a copy goes when a line of another statement of the account
      -- holds the same booking (date, amount, currency, EndToEndId, remittance, payer's account) and is an original,
      -- or a copy delivered before it (a re-sent original is marked a copy too); one only the copy gives stays, and
      -- two alike in one statement (a customer paying twice) are two.
      AND NOT (e.copy_indicator IS NOT NULL AND EXISTS (
          SELECT 1 FROM raw_camt053_entries AS o
          WHERE coalesce(o.status, 'BOOK') = 'BOOK'
            AND (o.copy_indicator IS NULL OR o.delivered < e.delivered
                 OR (o.delivered = e.delivered AND o.bank_line_id < e.bank_line_id))
            AND o.entity = e.entity AND coalesce(o.account_iban, '') = coalesce(e.account_iban, '')
            AND coalesce(o.statement_id, '') <> coalesce(e.statement_id, '')
            AND o.booking_date = e.booking_date AND o.amount = e.amount
            AND o.currency = e.currency AND coalesce(o.end_to_end_id, '') = coalesce(e.end_to_end_id, '')
            AND coalesce(o.remittance_unstructured, '') = coalesce(e.remittance_unstructured, '')
            AND coalesce(o.counterparty_iban, '') = coalesce(e.counterparty_iban, '')))
    {% endif %}
)
SELECT
    entity,
    bank_line_id || account_suffix AS bank_line_id,
    nullif(upper(account_iban), '') AS account_iban,
    -- BookgDt is optional in camt.053.001.02: the connector books such an entry on its ValDt; rows an older
    -- connector loaded without a booking date (their file is remembered, so never read again) get it here
    coalesce(booking_date, value_date) AS booking_date,
    coalesce(value_date, booking_date) AS value_date,
    amount,
    upper(currency) AS currency,
    counterparty_name,
    upper(replace(counterparty_iban, ' ', '')) AS counterparty_iban,
    -- (referred_documents and remittance_rejoined came with later versions of the connector: a table
    -- loaded before has none).
    -- A transaction without any RmtInf: the entry's additional information, where some banks write
    -- the payer's words ("VIR SEPA RECU /DE ACME /MOTIF FACTURE FA-2024-00123").
    coalesce(nullif(concat_ws(' ', remittance_unstructured, creditor_reference
              {%- if has_column('raw_camt053_entries', 'referred_documents') %}, referred_documents{% endif %}
              {%- if has_column('raw_camt053_entries', 'remittance_rejoined') %}, remittance_rejoined{% endif %}), ''),
             additional_info) AS remittance,
    nullif(end_to_end_id, 'NOTPROVIDED') AS end_to_end_id,
    bank_tx_code,
    return_reason,
    -- a payment in another currency than the account's: what the payer instructed (AmtDtls/InstdAmt;
    -- a table loaded by an older connector has no such column)
    {% if has_column('raw_camt053_entries', 'instructed_amount') -%}
    CAST(instructed_amount AS DECIMAL(18,2)) AS instructed_amount,
    upper(instructed_currency) AS instructed_currency,
    {%- else -%}
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    {%- endif %}
    -- a batch entry's transactions are <entry>/<n> (connectors/camt053): the entry they were booked in, which an
    -- ERP may book as one bank line with one customer line per payer (a cheque remittance, a batch of transfers)
    {% if has_column('raw_camt053_entries', 'batch_size') -%}
    CASE WHEN batch_size > 1 THEN regexp_replace(bank_line_id, '/[0-9]+$', '') ELSE bank_line_id END || account_suffix
        AS entry_id,
    {%- else -%}
    bank_line_id || account_suffix AS entry_id,
    {%- endif %}
    'camt053' AS source_system,
    bank_line_id || account_suffix AS source_id
FROM entries
