-- Every incoming money movement from a customer: provider payments and ERP receipts
-- from staging, plus the bank statement's customer credits (a credit that is neither
-- a provider payout nor a return). Bank transfers find their customer by IBAN here;
-- reconciliation finds the rest.
WITH provider_and_erp AS (
    {{ union('payments') }}
),
provider_lines AS (
    SELECT bank_line_id FROM int_payout_bank_links
),
bank_transfers AS (
    SELECT
        b.entity,
        b.bank_line_id AS payment_id,
        'bank_transfer' AS channel,
        c.customer_id,
        b.amount,
        0 AS fee,
        b.currency,
        b.booking_date AS paid_on,
        'succeeded' AS status,
        concat_ws(' ', b.remittance, b.end_to_end_id) AS reference,
        b.counterparty_name AS payer_name,
        b.counterparty_iban AS payer_iban,
        CAST(NULL AS TEXT) AS payout_id,
        CAST(NULL AS TEXT) AS failure_reason,
        b.source_system,
        b.source_id
    FROM fct_bank_line AS b
    LEFT JOIN (
        SELECT entity, iban, min(customer_id) AS customer_id
        FROM dim_customer
        WHERE iban IS NOT NULL
        GROUP BY entity, iban
        HAVING count(*) = 1
    ) AS c ON c.entity = b.entity AND c.iban = b.counterparty_iban
    WHERE b.amount > 0
      AND b.return_reason IS NULL
      AND b.bank_line_id NOT IN (SELECT bank_line_id FROM provider_lines)
      {% for name in provider_payer_names %}
      AND upper(coalesce(b.counterparty_name, '')) NOT LIKE '%{{ name }}%'
      {% endfor %}
)
SELECT entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, reference,
       payer_name, payer_iban, payout_id, failure_reason, source_system, source_id, now() AS _loaded_at
FROM provider_and_erp
UNION ALL
SELECT entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, reference,
       payer_name, payer_iban, payout_id, failure_reason, source_system, source_id, now() AS _loaded_at
FROM bank_transfers
