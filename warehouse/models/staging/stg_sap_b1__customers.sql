-- SAP Business One business partners of type customer.
-- shape: customers
-- requires: raw_sap_b1_business_partners
SELECT
    entity,
    card_code AS customer_id,
    card_name AS name,
    federal_tax_id AS vat_id,
    CAST(NULL AS TEXT) AS siren,
    lower(email_address) AS email,
    CAST(NULL AS TEXT) AS iban,
    upper(country) AS country,
    u_payment_terms_days AS payment_terms_days,
    credit_limit,
    upper(currency) AS currency,
    CAST(NULL AS TEXT) AS account_owner,
    'sap_b1' AS source_system,
    card_code AS source_id
FROM raw_sap_b1_business_partners
WHERE card_type = 'cCustomer'
