-- mart_factoring: per entity, contract and currency, as of a date.
--   financed_amount      face value of invoices assigned in confirmed batches
--   advance_amount       what the factor owes up front (gross), advance_received what it wired
--   fees_expected        commission + financing of the bordereaux; fees_paid what it withheld
--                        from the advances received (gross advance − cash received) plus what it
--                        debited us for itself (commission, interest: settlement kind fee)
--   reserve_outstanding  reserve of the batches − reserve releases received
--   to_transfer          customer payments on assigned invoices received by us, not yet sent on
--                        (open exceptions); transferred_to_factor what we sent on (kind transfer)
--   open_factored        amount still open on factored invoices the factor has not collected
--                        (no reserve released for them) nor settled (fct_invoice), plus what their
--                        debtors paid us that we have not sent on yet
--   dso_effect_days      open_factored ÷ credit sales of the last 90 days × 90: the days of
--                        sales the factoring takes off the DSO
WITH b AS (
    SELECT entity, contract_id, factor, currency,
           count(*) AS batches, sum(invoice_count) AS invoices, sum(amount) AS financed_amount,
           sum(advance_amount) AS advance_amount, sum(commission + financing_fee) AS fees_expected,
           sum(reserve_amount) AS reserve_amount
    FROM factoring_batch WHERE state = 'confirmed' AND as_of <= CAST(:as_of AS DATE)
    GROUP BY entity, contract_id, factor, currency
), adv AS (
    SELECT s.entity, s.contract_id,
           sum(CASE WHEN s.kind = 'advance' THEN s.amount ELSE 0 END) AS advance_received,
           sum(CASE WHEN s.kind = 'advance' THEN bb.advance_amount - s.amount
                    WHEN s.kind = 'fee' THEN -s.amount ELSE 0 END) AS fees_paid,
           sum(CASE WHEN s.kind = 'transfer' THEN -s.amount ELSE 0 END) AS transferred,
           sum(CASE WHEN s.kind = 'reserve_release' THEN s.amount ELSE 0 END) AS reserve_released,
           sum(CASE WHEN s.kind = 'unallocated' THEN s.amount ELSE 0 END) AS unallocated
    FROM factoring_settlement AS s
    LEFT JOIN factoring_batch AS bb ON bb.batch_id = s.batch_id
    WHERE s.booking_date IS NULL OR s.booking_date <= CAST(:as_of AS DATE)
    GROUP BY s.entity, s.contract_id
), tr AS (
    SELECT e.entity, bb.contract_id, sum(e.amount) AS to_transfer, count(*) AS to_transfer_count
    FROM factoring_exception AS e JOIN factoring_batch AS bb ON bb.batch_id = e.batch_id
    WHERE e.kind = 'paid_to_us_factored' AND e.resolved_at IS NULL
    GROUP BY e.entity, bb.contract_id
), op AS (
    -- what the debtor still owes on the invoice, plus what it paid us and we have not sent on yet: the factor
    -- carries both until its money reaches it
    SELECT fa.entity, bb.contract_id,
           sum(CASE WHEN i.amount_open > 0 THEN i.amount_open ELSE 0 END + coalesce(t.left_to_send, 0)) AS open_factored
    FROM fct_factoring_assignment AS fa
    JOIN factoring_batch AS bb ON bb.batch_id = fa.batch_id
    LEFT JOIN fct_invoice AS i ON i.entity = fa.entity AND i.invoice_id = fa.invoice_id
    LEFT JOIN (SELECT entity, invoice_id, sum(amount) AS left_to_send FROM factoring_exception
               WHERE kind = 'paid_to_us_factored' AND resolved_at IS NULL GROUP BY entity, invoice_id) AS t
           ON t.entity = fa.entity AND t.invoice_id = fa.invoice_id
    WHERE coalesce(fa.status, '') NOT IN ('repurchased', 'cancelled', 'rejected', 'recourse', 'collected', 'settled')
      AND (i.amount_open > 0 OR t.left_to_send > 0)
    GROUP BY fa.entity, bb.contract_id
), sales AS (
    SELECT entity, upper(currency) AS currency, sum(amount_total) AS credit_sales_90d
    FROM fct_invoice
    WHERE doc_type = 'invoice' AND issue_date > CAST(:since AS DATE) AND issue_date <= CAST(:as_of AS DATE)
    GROUP BY entity, upper(currency)
)
SELECT CAST(:as_of AS DATE) AS as_of, b.entity, b.contract_id, b.factor, b.currency,
       CAST(b.batches AS BIGINT) AS batches, CAST(b.invoices AS BIGINT) AS invoices,
       CAST(b.financed_amount AS DECIMAL(18,2)) AS financed_amount,
       CAST(b.advance_amount AS DECIMAL(18,2)) AS advance_amount,
       CAST(coalesce(adv.advance_received, 0) AS DECIMAL(18,2)) AS advance_received,
       CAST(b.fees_expected AS DECIMAL(18,2)) AS fees_expected,
       CAST(coalesce(adv.fees_paid, 0) AS DECIMAL(18,2)) AS fees_paid,
       CAST(b.reserve_amount AS DECIMAL(18,2)) AS reserve_amount,
       CAST(coalesce(adv.reserve_released, 0) AS DECIMAL(18,2)) AS reserve_released,
       CAST(b.reserve_amount - coalesce(adv.reserve_released, 0) AS DECIMAL(18,2)) AS reserve_outstanding,
       CAST(coalesce(adv.unallocated, 0) AS DECIMAL(18,2)) AS unallocated_from_factor,
       CAST(coalesce(tr.to_transfer, 0) AS DECIMAL(18,2)) AS to_transfer,
       CAST(coalesce(tr.to_transfer_count, 0) AS BIGINT) AS to_transfer_count,
       CAST(coalesce(adv.transferred, 0) AS DECIMAL(18,2)) AS transferred_to_factor,
       CAST(coalesce(op.open_factored, 0) AS DECIMAL(18,2)) AS open_factored,
       CAST(coalesce(sales.credit_sales_90d, 0) AS DECIMAL(18,2)) AS credit_sales_90d,
       CAST(CASE WHEN coalesce(sales.credit_sales_90d, 0) > 0
                 THEN coalesce(op.open_factored, 0) * 90 / sales.credit_sales_90d END AS DECIMAL(9,2)) AS dso_effect_days
FROM b
LEFT JOIN adv ON adv.entity = b.entity AND adv.contract_id = b.contract_id
LEFT JOIN tr ON tr.entity = b.entity AND tr.contract_id = b.contract_id
LEFT JOIN op ON op.entity = b.entity AND op.contract_id = b.contract_id
LEFT JOIN sales ON sales.entity = b.entity AND sales.currency = b.currency
ORDER BY b.entity, b.contract_id
