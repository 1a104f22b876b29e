-- GoCardless mandates: who signed each one and the ERP customer key its customer's metadata writes
-- (mappings/providers.yaml customer_keys), as the provider knows them; int_mandates resolves the customer.
-- shape: mandates
-- requires: raw_gocardless_mandates
{% set joined = has('raw_gocardless_customers') %}
{% set customer_refs = metadata_cols('raw_gocardless_customers', 'cu', providers.gocardless.customer_keys) if joined else [] %}
SELECT
    md.entity,
    md.id AS mandate_id,
    md.status,
    md.scheme,
    coalesce({% for col in customer_refs %}nullif({{ col }}, ''), {% endfor %}CAST(NULL AS TEXT)) AS customer_id,
    CAST(NULL AS TEXT) AS customer_via,
    md.links__customer AS provider_customer_id,
    {% if joined %}coalesce(nullif(cu.company_name, ''), concat_ws(' ', cu.given_name, cu.family_name)){% else %}CAST(NULL AS TEXT){% endif %} AS payer_name,
    {% if joined %}nullif(lower(trim(cu.email)), ''){% else %}CAST(NULL AS TEXT){% endif %} AS payer_email,
    'gocardless' AS source_system,
    md.id AS source_id
FROM raw_gocardless_mandates AS md
{% if joined %}LEFT JOIN raw_gocardless_customers AS cu ON cu.entity = md.entity AND cu.id = md.links__customer{% endif %}
