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
    -- the contact reference people and integrations write (JUN001): Sage keys contacts by a GUID
    nullif(trim(reference), '') AS customer_number,
    CAST(NULL AS TEXT) AS payment_terms,
    'sage_accounting' AS source_system,
    id AS source_id
FROM raw_sage_accounting_contacts
{#- the connector writes Sage's list of types as JSON text in contact_types_json (connectors/sage_accounting:
    lists are kept as JSON); an older load may hold it in contact_types -#}
{% set has_json = has_column('raw_sage_accounting_contacts', 'contact_types_json') %}
{% set has_text = has_column('raw_sage_accounting_contacts', 'contact_types') %}
{% if has_json and has_text %}{% set types = 'coalesce(contact_types_json, contact_types)' %}
{% elif has_json %}{% set types = 'contact_types_json' %}{% elif has_text %}{% set types = 'contact_types' %}
{% else %}{% set types = '' %}{% endif %}
{% if types %}
WHERE {{ types }} IS NULL OR {{ types }} NOT LIKE '%"id"%' OR {{ types }} LIKE '%"CUSTOMER"%'
{% endif %}
