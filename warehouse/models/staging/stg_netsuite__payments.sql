-- NetSuite customer payments (CustPymt): evidence for reconciliation. erp_lettrage lists
-- the invoice ids NetSuite applied the payment to; an unapplied payment has none. A voided payment (a cheque
-- that bounced: NetSuite zeroes it) received nothing; nor did one NetSuite deleted.
-- shape: payments
-- requires: raw_netsuite_transactions
WITH applications AS (
    {% if has('raw_netsuite_payment_applications') %}
    SELECT entity, nextdoc, string_agg(previousdoc, ',' ORDER BY previousdoc) AS invoice_ids
    FROM raw_netsuite_payment_applications
    WHERE {{ ns_not_deleted('previousdoc') }}
    GROUP BY entity, nextdoc
    {% else %}
    SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS nextdoc, CAST(NULL AS TEXT) AS invoice_ids WHERE 1 = 0
    {% endif %}
)
SELECT
    t.entity,
    'NS-' || t.id AS payment_id,
    'erp' AS channel,
    t.customer_id,
    abs(t.foreigntotal) AS amount,
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
WHERE t.type = 'CustPymt' AND coalesce(t.voided, 'F') = 'F' AND {{ ns_not_deleted('t.id') }}
