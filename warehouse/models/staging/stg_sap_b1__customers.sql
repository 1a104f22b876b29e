-- SAP Business One business partners of type customer, with the IBAN of their default bank account.
-- shape: customers
-- requires: raw_sap_b1_business_partners
SELECT
    entity,
    card_code AS customer_id,
    card_name AS name,
    federal_tax_id AS vat_id,
    CAST(NULL AS TEXT) AS siren,
    lower(email_address) AS email,
    upper(replace(iban, ' ', '')) AS iban,
    upper(country) AS country,
    u_payment_terms_days AS payment_terms_days,
    credit_limit,
    -- '##' is B1's "all currencies": no invoicing currency
    CASE WHEN currency = '##' THEN NULL ELSE upper(currency) END AS currency,
    CAST(NULL AS TEXT) AS account_owner,
    CAST(NULL AS TEXT) AS customer_number,  -- (the customer id is the number)
    CAST(NULL AS TEXT) AS payment_terms,
    'sap_b1' AS source_system,
    card_code AS source_id
FROM raw_sap_b1_business_partners
WHERE card_type = 'cCustomer'
