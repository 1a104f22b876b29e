-- Other numbers the ERP keeps for a document, which payers quote too (staging models of shape
-- invoice_aliases): SAP's document number when XBLNR holds something else, a unique assignment
-- (ZUONR: a Swiss QR reference, a structured creditor reference, the customer's order). The
-- reconciliation looks them up only for remittance tokens that named no invoice number (kind 5).
SELECT entity, invoice_id, alias, source_system FROM ({{ union('invoice_aliases') }}) AS a
WHERE alias IS NOT NULL AND alias <> ''
