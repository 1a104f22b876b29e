-- The ERP's own receipts, one row per customer line: a FEC bank-journal line on 411, an SAP
-- payment document's customer line. Each carries the bank movement it belongs to (the journal
-- entry or payment document: a cheque remittance booked as one entry of several customers' lines
-- is one movement, one bank credit), what the bank moved for it when the ERP books the bank side too
-- (a FEC's 512 lines: a card settlement's net of commission; NULL for an SAP export, whose customer
-- lines are the whole document), the line's label, and the lettrage code the accountant gave it
-- (EcritureLet, the clearing document AUGBL), which names the invoices it settles.
-- Within the bank data's period a bank credit no rule placed is looked up here by amount and date
-- (rule erp_receipt, warehouse/reconcile/residue.py): the ERP booked that money, so its lettrage
-- says which invoices it pays and its customers who paid.
SELECT
    p.entity,
    p.payment_id,
    p.source_system || ':' || p.source_id AS movement_id,
    p.customer_id,
    upper(p.currency) AS currency,
    p.amount,
    p.paid_on,
    nullif(p.erp_lettrage, '') AS erp_lettrage,
    p.reference,
    m.amount AS movement_amount
FROM ({{ union('payments') }}) AS p
LEFT JOIN ({{ union('erp_movements') }}) AS m
  ON m.entity = p.entity AND m.source_system = p.source_system AND m.source_id = p.source_id
 -- an entry that booked a converted receipt (a USD invoice paid into a EUR account: the 512 line in euros,
 -- the customer line in USD) says nothing the lines do not: the bank credit is found by what was instructed
 AND upper(m.currency) = upper(p.currency)
WHERE p.channel = 'erp' AND p.status = 'succeeded' AND p.amount <> 0 AND p.payment_id IS NOT NULL
