-- What each NetSuite customer payment or customer deposit applied to each invoice (NextTransactionLineLink,
-- foreignamount in the invoice's currency; a deposit through its deposit applications): two payments closing one
-- invoice each settle their own part of it, and a payment applied short of an invoice NetSuite shows paid leaves
-- the difference (a discount taken) to the tolerances. A customer refund's application to a credit memo is what it paid
-- back of it (int_credit_note_refunds).
-- shape: erp_applications
-- requires: raw_netsuite_payment_applications
SELECT
    a.entity,
    a.previousdoc AS invoice_id,
    'NS-' || a.nextdoc AS payment_id,
    abs(a.foreignamount) AS amount,
    'netsuite' AS source_system
FROM ({{ ns_links() }}) AS a
WHERE (a.nexttype IN ('CustPymt', 'CustDep') OR (a.nexttype = 'CustRfnd' AND a.previoustype = 'CustCred'))
  AND coalesce(a.previoustype, 'CustInvc') <> 'Journal'
  AND a.foreignamount IS NOT NULL
