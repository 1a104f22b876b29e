-- What each SAP partial payment applied to the invoice it refers to (the partial-payment method: the payment's
-- credit item stays open beside the invoice, its invoice reference REBZG/REBZJ naming it): the whole of the item.
-- With the invoice's lettrage listing these payments (stg_sap_export__invoices), each settles its own part of
-- it (int_erp_settlements), as NetSuite's applications do.
-- shape: erp_applications
-- requires: raw_sap_export_items
SELECT
    i.entity,
    {{ sap_invoice_ref('i') }} AS invoice_id,
    'SAP-' || CAST(i.fiscal_year AS TEXT) || '-' || i.document_number || '-' || CAST(i.line_item AS TEXT) AS payment_id,
    -i.amount AS amount,
    'sap_export' AS source_system
FROM raw_sap_export_items AS i
WHERE i.document_type IN ({{ sap_payment_doc_types }}) AND {{ sap_open_referring('i') }}
