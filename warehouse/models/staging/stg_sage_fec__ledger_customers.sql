-- Customers as the FEC names them (CompAuxNum/CompAuxLib): the fallback when no
-- customers export was dropped, so no invoice is left without a customer.
-- shape: customers
-- requires: raw_sage_fec_lines
SELECT
    entity,
    comp_aux_num AS customer_id,
    max(comp_aux_lib) AS name,
    CAST(NULL AS TEXT) AS vat_id,
    CAST(NULL AS TEXT) AS siren,
    CAST(NULL AS TEXT) AS email,
    CAST(NULL AS TEXT) AS iban,
    CAST(NULL AS TEXT) AS country,
    CAST(NULL AS BIGINT) AS payment_terms_days,
    CAST(NULL AS DECIMAL(18,2)) AS credit_limit,
    CAST(NULL AS TEXT) AS currency,
    CAST(NULL AS TEXT) AS account_owner,
    'sage_fec' AS source_system,
    comp_aux_num AS source_id
FROM raw_sage_fec_lines
WHERE compte_num LIKE '411%' AND coalesce(comp_aux_num, '') <> ''
GROUP BY entity, comp_aux_num
