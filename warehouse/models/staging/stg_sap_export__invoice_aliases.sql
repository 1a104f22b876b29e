-- Other numbers of an SAP invoice or credit memo that payers quote: its document number (BELNR,
-- without zero padding) when XBLNR holds something else (the customer's order, a delivery note),
-- and its assignment (ZUONR: a QR or creditor reference, an order number) when no other document
-- of the entity carries it, it holds a digit and five characters, and it is no date (YYYYMMDD, a
-- common default of the field). Payment documents have none.
-- shape: invoice_aliases
-- requires: raw_sap_export_items
WITH docs AS (
    SELECT entity, fiscal_year, document_number,
           upper(trim(max(nullif(reference, '')))) AS reference,
           upper(trim(max(nullif(assignment, '')))) AS assignment
    FROM raw_sap_export_items
    WHERE document_type NOT IN ({{ sap_payment_doc_types }}) AND NOT {{ sap_noted() }}
    GROUP BY entity, fiscal_year, document_number
), shared AS (
    SELECT entity, assignment FROM docs WHERE assignment IS NOT NULL
    GROUP BY entity, assignment HAVING count(*) > 1
)
SELECT entity, CAST(fiscal_year AS TEXT) || '-' || document_number AS invoice_id,
       ltrim(document_number, '0') AS alias, 'sap_export' AS source_system
FROM docs
WHERE reference IS NOT NULL AND reference <> document_number AND reference <> ltrim(document_number, '0')
UNION ALL
SELECT d.entity, CAST(d.fiscal_year AS TEXT) || '-' || d.document_number, d.assignment, 'sap_export'
FROM docs AS d
WHERE d.assignment IS NOT NULL AND length(d.assignment) >= 5
  AND {{ regex_matches('d.assignment', '[0-9]') }}
  AND NOT {{ regex_matches('d.assignment', '^(19|20)[0-9]{6}$') }}
  AND d.assignment <> coalesce(d.reference, '') AND d.assignment <> d.document_number
  AND d.assignment <> ltrim(d.document_number, '0')
  AND NOT EXISTS (SELECT 1 FROM shared AS s WHERE s.entity = d.entity AND s.assignment = d.assignment)
