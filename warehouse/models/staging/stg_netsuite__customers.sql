-- NetSuite customer records (terms resolved to days and currency to ISO by the connector). An individual
-- (isperson) has no company name: its first and last names are its name, else its entity id.
-- shape: customers
-- requires: raw_netsuite_customers
SELECT
    entity,
    id AS customer_id,
    coalesce(nullif(trim(companyname), ''), nullif(trim(concat_ws(' ', firstname, lastname)), ''), entityid) AS name,
    CAST(NULL AS TEXT) AS vat_id,
    CAST(NULL AS TEXT) AS siren,
    lower(email) AS email,
    CAST(NULL AS TEXT) AS iban,
    CAST(NULL AS TEXT) AS country,
    terms_days AS payment_terms_days,
    creditlimit AS credit_limit,
    upper(currency_code) AS currency,
    CAST(NULL AS TEXT) AS account_owner,
    -- the number people and integrations write (Stripe metadata): NetSuite keys customers by internal id
    nullif(trim(entityid), '') AS customer_number,
    CAST(NULL AS TEXT) AS payment_terms,
    'netsuite' AS source_system,
    id AS source_id
FROM raw_netsuite_customers
