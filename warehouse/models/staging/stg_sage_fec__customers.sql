-- The Sage customer export: the customer master of a French entity (its invoicing currency when the
-- export has a Devise column).
-- shape: customers
-- requires: raw_sage_fec_customers
SELECT
    entity,
    customer_account AS customer_id,
    name,
    vat_id,
    siren,
    lower(email) AS email,
    upper(replace(iban, ' ', '')) AS iban,
    upper(country) AS country,
    payment_terms_days,
    credit_limit,
    upper(nullif(trim(currency), '')) AS currency,
    account_owner,
    CAST(NULL AS TEXT) AS customer_number,  -- (the customer id is the number)
    nullif(trim(payment_terms), '') AS payment_terms,
    'sage_fec' AS source_system,
    customer_account AS source_id
FROM raw_sage_fec_customers
