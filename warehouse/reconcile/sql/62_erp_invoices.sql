-- Invoices the ERP shows settled (lettered, nothing open) for which Lettrage found no
-- payment, credit note or decision at all: the ERP knows something we do not.
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT i.entity, 'erp_disagreement', NULL, i.invoice_id, NULL, NULL, i.amount_total, i.currency,
       'ERP shows invoice ' || coalesce(i.invoice_number, i.invoice_id) || ' settled (lettrage '
       || i.erp_lettrage || ') but Lettrage found no payment for it'
FROM rc_inv AS i
WHERE i.doc_type = 'invoice' AND i.erp_lettrage IS NOT NULL AND i.erp_lettrage <> ''
  AND coalesce(i.erp_amount_open, 0) = 0 AND i.amount_total > 0
  AND NOT EXISTS (SELECT 1 FROM fct_match AS m WHERE m.entity = i.entity AND m.invoice_id = i.invoice_id
                  AND m.state IN ('auto', 'confirmed', 'suggested'))
  AND NOT EXISTS (SELECT 1 FROM decision AS d WHERE d.entity = i.entity AND d.invoice_id = i.invoice_id
                  AND d.kind = 'write_off');
