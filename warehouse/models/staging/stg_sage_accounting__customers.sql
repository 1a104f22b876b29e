-- Sage Accounting contacts of type customer: the customer master of a UK entity.
-- shape: customers
-- requires: raw_sage_accounting_contacts
SELECT
    entity,
    id AS customer_id,
    name,
    tax_number AS vat_id,
    CAST(NULL AS TEXT) AS siren,
    lower(email) AS email,
    upper(replace(bank_account_details__iban, ' ', '')) AS iban,
    upper(main_address__country__id) AS country,
    credit_days AS payment_terms_days,
    credit_limit,
    upper(currency__id) AS currency,
    CAST(NULL AS TEXT) AS account_owner,
    'sage_accounting' AS source_system,
    id AS source_id
FROM raw_sage_accounting_contacts
