-- NetSuite customer payments (CustPymt) and customer deposits (CustDep: money received before the invoice, applied
-- to it later by a deposit application): evidence for reconciliation. erp_lettrage lists the invoice ids NetSuite
-- applied the payment or deposit to; an unapplied one has none. A voided payment (a cheque that bounced: NetSuite
-- zeroes it) received nothing; nor did one NetSuite deleted, nor a payment of 0.00 (one that only applies a
-- journal entry's credit to an invoice: a write-off, stg_netsuite__invoices).
-- A customer refund (CustRfnd) is money paid back, a negative receipt lettered with what it refunds (a credit memo,
-- or a payment or deposit's excess): int_credit_note_refunds closes the credit memo with it.
-- shape: payments
-- requires: raw_netsuite_transactions
WITH applications AS (
    SELECT entity, nextdoc, string_agg(previousdoc, ',' ORDER BY previousdoc) AS invoice_ids
    FROM ({{ ns_links() }}) AS l
    WHERE coalesce(previoustype, 'CustInvc') <> 'Journal'
    GROUP BY entity, nextdoc
)
SELECT
    t.entity,
    'NS-' || t.id AS payment_id,
    'erp' AS channel,
    t.customer_id,
    CASE WHEN t.type = 'CustRfnd' THEN -abs(t.foreigntotal) ELSE abs(t.foreigntotal) END AS amount,
    0 AS fee,
    upper(t.currency_code) AS currency,
    t.trandate AS paid_on,
    'succeeded' AS status,
    concat_ws(' ', t.tranid, t.memo) AS reference,
    CAST(NULL AS TEXT) AS payer_name,
    CAST(NULL AS TEXT) AS payer_iban,
    CAST(NULL AS TEXT) AS payout_id,
    CAST(NULL AS TEXT) AS failure_reason,
    a.invoice_ids AS erp_lettrage,
    CAST(NULL AS DECIMAL(18,2)) AS instructed_amount,
    CAST(NULL AS TEXT) AS instructed_currency,
    CAST(NULL AS TEXT) AS payer_email,
    CAST(NULL AS TEXT) AS mandate_id,
    'netsuite' AS source_system,
    t.id AS source_id
FROM raw_netsuite_transactions AS t
LEFT JOIN applications AS a ON a.entity = t.entity AND a.nextdoc = t.id
WHERE t.type IN ('CustPymt', 'CustDep', 'CustRfnd') AND coalesce(t.voided, 'F') = 'F' AND (t.foreigntotal IS NULL OR t.foreigntotal <> 0)
  AND {{ ns_not_deleted('t.id') }}
