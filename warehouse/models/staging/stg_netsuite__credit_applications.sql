-- What NetSuite applied of each credit memo to each invoice (NextTransactionLineLink: previousdoc the invoice,
-- nextdoc the credit memo, foreignamount in their currency). What it did not apply stays the customer's credit
-- (the memo's amount remaining): a memo of 150.00 applied for 100.00 credits its invoice 100.00, not 150.00, and
-- a memo applied to two invoices paid by two payments (no one code) credits each its own part (15_credit_notes).
-- shape: erp_credit_applications
-- requires: raw_netsuite_payment_applications
SELECT
    a.entity,
    a.nextdoc AS cn_id,
    a.previousdoc AS invoice_id,
    abs(a.foreignamount) AS amount,
    'netsuite' AS source_system
FROM ({{ ns_links() }}) AS a
WHERE a.nexttype = 'CustCred' AND coalesce(a.previoustype, 'CustInvc') = 'CustInvc' AND a.foreignamount IS NOT NULL
