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

-- Invoices the ERP shows paid beyond what Lettrage applied to them (money, credit notes, adjustments), in part
-- or in full, when the ERP says what is still open there (erp_amount_open: SAP, NetSuite, Sage Accounting,
-- Business One): the ERP applied a receipt to this invoice that Lettrage found for another one or not at all
-- (NetSuite put a payment on INV-1012 whose remittance names INV-1042).
INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT i.entity, 'erp_disagreement', NULL, i.invoice_id, NULL, NULL,
       CAST(i.amount_total - i.erp_amount_open - coalesce(m.settled, 0) AS DECIMAL(18,2)), upper(i.currency),
       'ERP shows ' || CAST(CAST(i.amount_total - i.erp_amount_open AS DECIMAL(18,2)) AS VARCHAR) || ' of invoice '
       || coalesce(i.invoice_number, i.invoice_id) || ' paid (' || i.erp_lettrage || ') but Lettrage applied '
       || CAST(CAST(coalesce(m.settled, 0) AS DECIMAL(18,2)) AS VARCHAR) || ' to it: the ERP may have applied a receipt '
       || 'to the wrong invoice'
FROM {{ invoices_table }} AS i
LEFT JOIN (SELECT invoice_id, sum(amount_applied + coalesce(adjustment, 0)) AS settled FROM fct_match
           WHERE entity = :entity AND state IN ('auto', 'confirmed') GROUP BY invoice_id) AS m
       ON m.invoice_id = i.invoice_id
WHERE i.entity = :entity AND i.invoice_id IS NOT NULL AND i.doc_type = 'invoice' AND i.amount_total > 0
  AND i.erp_lettrage IS NOT NULL AND i.erp_lettrage <> '' AND i.erp_amount_open IS NOT NULL
  AND i.erp_amount_open < i.amount_total
  AND i.amount_total - i.erp_amount_open - coalesce(m.settled, 0) > {{ tol.rounding_abs }}
  -- (settled there without any match here: the statement above; a suggestion already asks a person)
  AND NOT (i.erp_amount_open = 0 AND m.settled IS NULL)
  AND NOT EXISTS (SELECT 1 FROM fct_match AS x WHERE x.entity = i.entity AND x.invoice_id = i.invoice_id
                  AND x.state = 'suggested')
  AND NOT EXISTS (SELECT 1 FROM decision AS d WHERE d.entity = i.entity AND d.invoice_id = i.invoice_id
                  AND d.kind = 'write_off')
  {% if incremental %}AND i.invoice_id IN (SELECT invoice_id FROM rc_affected){% endif %};
