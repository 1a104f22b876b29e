-- One customer per entity: the ERP's customer master first, the ledger's names as fallback.
-- segment and score are filled by the payment-behaviour mart.
WITH all_customers AS (
    {{ union('customers') }}
),
ranked AS (
    SELECT
        a.*,
        row_number() OVER (
            PARTITION BY entity, customer_id
            ORDER BY CASE WHEN email IS NOT NULL OR iban IS NOT NULL THEN 0 ELSE 1 END, source_system
        ) AS rn
    FROM all_customers AS a
)
SELECT
    entity, customer_id, name, vat_id, siren, email, iban, country, payment_terms_days,
    credit_limit, currency, account_owner, customer_number, payment_terms,
    CAST(NULL AS TEXT) AS segment,
    CAST(NULL AS DECIMAL(9,4)) AS score,
    source_system, source_id, now() AS _loaded_at
FROM ranked
WHERE rn = 1
