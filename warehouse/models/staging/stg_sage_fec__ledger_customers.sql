-- Customers as the FEC names them (CompAuxNum/CompAuxLib, or an individual account and its
-- CompteLib: see _fec.jinja): the fallback when no
-- customers export was dropped, so no invoice is left without a customer.
-- shape: customers
-- requires: raw_sage_fec_lines
SELECT
    l.entity,
    {{ fec_customer('l') }} AS customer_id,
    max({{ fec_customer_name('l') }}) AS name,
    CAST(NULL AS TEXT) AS vat_id,
    CAST(NULL AS TEXT) AS siren,
    CAST(NULL AS TEXT) AS email,
    CAST(NULL AS TEXT) AS iban,
    CAST(NULL AS TEXT) AS country,
    CAST(NULL AS BIGINT) AS payment_terms_days,
    CAST(NULL AS DECIMAL(18,2)) AS credit_limit,
    CAST(NULL AS TEXT) AS currency,
    CAST(NULL AS TEXT) AS account_owner,
    CAST(NULL AS TEXT) AS customer_number,  -- (the customer id is the number)
    CAST(NULL AS TEXT) AS payment_terms,
    'sage_fec' AS source_system,
    {{ fec_customer('l') }} AS source_id
FROM {{ fec_lines() }} AS l
WHERE l.compte_num LIKE '411%' AND {{ fec_customer('l') }} IS NOT NULL
GROUP BY l.entity, {{ fec_customer('l') }}
