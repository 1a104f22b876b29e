-- The SAP customer master extract (KNA1/KNB1 fields).
-- shape: customers
-- requires: raw_sap_export_customers
SELECT
    entity,
    customer AS customer_id,
    name,
    vat_id,
    CAST(NULL AS TEXT) AS siren,
    lower(email) AS email,
    upper(replace(iban, ' ', '')) AS iban,
    upper(country) AS country,
    payment_terms_days,
    credit_limit,
    CAST(NULL AS TEXT) AS currency,
    account_owner,
    CAST(NULL AS TEXT) AS customer_number,  -- (the customer id is the number)
    CAST(NULL AS TEXT) AS payment_terms,
    'sap_export' AS source_system,
    customer AS source_id
FROM raw_sap_export_customers
