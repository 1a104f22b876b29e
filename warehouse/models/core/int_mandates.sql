-- Each direct-debit mandate with the ERP customer it collects for. Many provider accounts were set up without
-- the ERP's customer id in their metadata (a mandate signed on a hosted page): the customer is then the one its
-- collections were paid by (fct_payment.customer_id, itself from metadata or the payer's email, when all its
-- payments agree), else the one customer whose master holds the signer's email. customer_via says which.
-- Reminders collect through a live mandate instead of emailing (actions/dunning), and also treat a mandate whose
-- collections the reconciliation applied to a customer's invoices as that customer's.
WITH staged AS (
    {{ union('mandates') }}
),
customer_keys AS (
    {{ customer_keys() }}
),
customer_emails AS (
    {{ customer_emails() }}
),
paid_by AS (
    SELECT entity, mandate_id, min(customer_id) AS customer_id
    FROM fct_payment
    WHERE mandate_id IS NOT NULL AND customer_id IS NOT NULL
    GROUP BY entity, mandate_id HAVING min(customer_id) = max(customer_id)
)
SELECT s.entity, s.mandate_id, s.status, s.scheme,
       coalesce(c.customer_id, k.customer_id, z.customer_id, p.customer_id, e.customer_id) AS customer_id,
       CASE WHEN coalesce(c.customer_id, k.customer_id, z.customer_id) IS NOT NULL THEN 'metadata'
            WHEN p.customer_id IS NOT NULL THEN 'payments'
            WHEN e.customer_id IS NOT NULL THEN 'email' END AS customer_via,
       s.provider_customer_id, s.payer_name, s.payer_email, s.source_system, s.source_id
FROM staged AS s
LEFT JOIN dim_customer AS c ON c.entity = s.entity AND c.customer_id = s.customer_id
{{ join_customer_keys('s.customer_id', 's.entity') }}
LEFT JOIN paid_by AS p ON p.entity = s.entity AND p.mandate_id = s.mandate_id
LEFT JOIN customer_emails AS e ON e.entity = s.entity AND e.email = s.payer_email
