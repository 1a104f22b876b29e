-- Sage Accounting contacts of type customer: the customer master of a UK entity. Suppliers (contact_types
-- VENDOR only: a landlord, a stationer) are not customers; a contact without types is kept.
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
{% if has_column('raw_sage_accounting_contacts', 'contact_types') %}
WHERE contact_types IS NULL OR contact_types NOT LIKE '%"id"%' OR contact_types LIKE '%"CUSTOMER"%'
{% endif %}
