-- Invoices the ERP shows settled (lettered, nothing open) for which Lettrage found no
-- payment, credit note or decision at all: the ERP knows something we do not.
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
-- (read from the invoices themselves: an incremental run's rc_inv holds only what it touches; such a
-- run looks only at the invoices it may have moved, rc_affected, and 64 leaves the others' open)
SELECT i.entity, 'erp_disagreement', NULL, i.invoice_id, NULL, NULL, CAST(i.amount_total AS DECIMAL(18,2)),
       upper(i.currency),
       'ERP shows invoice ' || coalesce(i.invoice_number, i.invoice_id) || ' settled (lettrage '
       || i.erp_lettrage || ') but Lettrage found no payment for it'
FROM {{ invoices_table }} AS i
WHERE i.invoice_id IS NOT NULL AND i.entity = :entity
  AND i.doc_type = 'invoice' AND i.erp_lettrage IS NOT NULL AND i.erp_lettrage <> ''
  -- settled in the ERP (run._ERP_SETTLED_MACRO: nothing open there, or a FEC's balanced lettrage)
  AND {{ erp_settled('i') }}
  AND i.amount_total > 0
  AND NOT EXISTS (SELECT 1 FROM fct_match AS m WHERE m.entity = i.entity AND m.invoice_id = i.invoice_id
                  AND m.state IN ('auto', 'confirmed', 'suggested'))
  AND NOT EXISTS (SELECT 1 FROM decision AS d WHERE d.entity = i.entity AND d.invoice_id = i.invoice_id
                  AND d.kind = 'write_off')
  {% if incremental %}AND i.invoice_id IN (SELECT invoice_id FROM rc_affected){% endif %};
