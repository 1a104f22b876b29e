-- What each NetSuite customer payment applied to each invoice (NextTransactionLineLink, foreignamount in the
-- invoice's currency): two payments closing one invoice each settle their own part of it, and a payment
-- applied short of an invoice NetSuite shows paid leaves the difference (a discount taken) to the tolerances.
-- shape: erp_applications
-- requires: raw_netsuite_payment_applications
SELECT
    a.entity,
    a.previousdoc AS invoice_id,
    'NS-' || a.nextdoc AS payment_id,
    abs(a.foreignamount) AS amount,
    'netsuite' AS source_system
FROM raw_netsuite_payment_applications AS a
WHERE coalesce(a.nexttype, 'CustPymt') = 'CustPymt' AND a.foreignamount IS NOT NULL
  AND {{ ns_not_deleted('a.nextdoc') }} AND {{ ns_not_deleted('a.previousdoc') }}
