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
-- A bill of exchange or a cheque the bank collected and then returned unpaid (an LCR or a cheque impayé: the
-- accountant books the customer's 411 back in debit against the bank, and the invoice is owed again; int_bills)
-- is marked on its receipt line:
-- returned_on / returned_by name the entry that sent it back, the latest bill of that customer, amount and
-- currency collected up to erp.bill_return_days before it (matching.yaml), each bill returned once. The
-- reconciliation then applies none of its money and reopens what it paid (residue._erp_receipt).
WITH r AS (
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
), returns AS (
    SELECT entity, movement_id, customer_id, currency, -amount AS amount, paid_on
    FROM r WHERE amount < 0 AND customer_id IS NOT NULL
), candidates AS (
    SELECT b.entity, b.payment_id, x.movement_id AS returned_by, x.paid_on AS returned_on,
           row_number() OVER (PARTITION BY x.entity, x.movement_id, x.customer_id
                              ORDER BY b.paid_on DESC, b.payment_id DESC) AS latest
    FROM returns AS x
    JOIN r AS b
      ON b.entity = x.entity AND b.customer_id = x.customer_id AND b.currency = x.currency AND b.amount = x.amount
     AND b.paid_on <= x.paid_on AND b.paid_on >= x.paid_on - {{ erp_window('x.entity', 'bill_return') }}
    WHERE b.payment_id IN (SELECT bill_id FROM int_bills)
), returned AS (
    SELECT entity, payment_id, returned_by, returned_on FROM (
        SELECT c.*, row_number() OVER (PARTITION BY entity, payment_id ORDER BY returned_on, returned_by) AS first
        FROM candidates AS c WHERE latest = 1
    ) AS f WHERE first = 1
)
SELECT r.*, t.returned_on, t.returned_by
FROM r LEFT JOIN returned AS t ON t.entity = r.entity AND t.payment_id = r.payment_id
