-- Invoices the ERP settled with its own receipts: ERP-channel payments (a FEC bank-journal line
-- on 411, a SAP DZ document) sharing the invoice's lettrage code (EcritureLet, the clearing
-- document AUGBL), the code balanced (its invoices and credit notes total what its receipts
-- total: a partial lettering is not a settlement) and nothing open in the ERP. One row per
-- invoice, with the code's latest receipt, its date and what the code's receipts total; a code of several
-- receipts and invoices only (no credit note) one row per invoice and receipt instead, each receipt's part
-- of the invoice in applied (receipts by date laid against the invoices by due date). The reconciliation settles such an
-- invoice on the ERP's word only when that receipt predates the bank and provider data
-- (warehouse/reconcile/sql/16_erp_settled.sql); within their period the bank line is the evidence.
-- An ERP whose invoice lists the receipts that settle it (SAP Business One 'PAY-12,CN-3', NetSuite's
-- applying payments, Sage Accounting's allocations: each the source_id of a receipt or credit note of the
-- same system) settles it, in full or in part (what the ERP still shows open stays owed: 16_erp_settled),
-- when a receipt is listed: the latest listed receipt, what the listed receipts total. When the ERP also
-- says what each listed receipt applied to the invoice (int_erp_applications' shape: NetSuite, Sage
-- Accounting, SAP Business One), one row per receipt instead, with what it applied (applied): two payments
-- closing one invoice each settle their part, and a receipt applied short of an invoice the ERP shows paid
-- (a discount taken) leaves the difference to the tolerances (40_adjust).
WITH all_receipts AS (
    SELECT entity, payment_id, source_system, source_id, erp_lettrage, upper(currency) AS currency, amount, paid_on
    FROM ({{ union('payments') }}) AS p
    WHERE channel = 'erp' AND status = 'succeeded'
), receipts AS (
    SELECT entity, payment_id, erp_lettrage, currency, amount, paid_on
    FROM all_receipts WHERE erp_lettrage IS NOT NULL AND erp_lettrage <> ''
), codes AS (
    SELECT entity, erp_lettrage, currency, sum(amount) AS received, max(paid_on) AS settled_on,
           count(*) AS n_receipts, min(amount) AS min_receipt
    FROM receipts GROUP BY entity, erp_lettrage, currency
), latest AS (
    SELECT entity, erp_lettrage, currency, payment_id
    FROM (
        SELECT r.*, row_number() OVER (PARTITION BY entity, erp_lettrage, currency
                                       ORDER BY paid_on DESC, payment_id DESC) AS rn
        FROM receipts AS r
    ) AS x
    WHERE rn = 1
), billed AS (
    SELECT entity, erp_lettrage, upper(currency) AS currency, sum(amount_total) AS billed,
           sum(CASE WHEN doc_type <> 'invoice' OR amount_total <= 0 THEN 1 ELSE 0 END) AS n_other
    FROM int_invoices WHERE erp_lettrage IS NOT NULL AND erp_lettrage <> ''
    GROUP BY entity, erp_lettrage, upper(currency)
), balanced AS (
    -- the balanced codes with nothing open in the ERP, and whether each receipt can be laid on its invoices
    -- one by one (several receipts, all money in, no credit note in the code)
    SELECT c.entity, c.erp_lettrage, c.currency, c.received, c.settled_on,
           (c.n_receipts > 1 AND c.min_receipt > 0 AND b.n_other = 0) AS per_receipt
    FROM codes AS c
    JOIN billed AS b ON b.entity = c.entity AND b.erp_lettrage = c.erp_lettrage AND b.currency = c.currency
    WHERE b.billed = c.received
), by_code AS (
    -- one row per invoice, with the code's latest receipt
    SELECT i.entity, i.invoice_id, l.payment_id, c.settled_on, i.erp_lettrage, c.received
    FROM int_invoices AS i
    JOIN balanced AS c ON c.entity = i.entity AND c.erp_lettrage = i.erp_lettrage AND c.currency = upper(i.currency)
    JOIN latest AS l ON l.entity = c.entity AND l.erp_lettrage = c.erp_lettrage AND l.currency = c.currency
    WHERE i.doc_type = 'invoice' AND i.amount_total > 0 AND coalesce(i.erp_amount_open, 0) = 0
      AND NOT c.per_receipt
), laid AS (
    -- several receipts settling a code's invoices (SAP's partial payments cleared with the last one, a FEC's
    -- instalments lettered together): each receipt pays its own part, receipts in date order laid against the
    -- invoices by due date, so a receipt before the bank data begin settles on the ERP's word what it paid and
    -- the bank line is the evidence for the rest (16_erp_settled)
    SELECT d.*, {{ sum_before('d.amount', 'd.entity, d.erp_lettrage, d.currency, d.side', 'd.at, d.id') }} AS start_at
    FROM (
        SELECT i.entity, i.erp_lettrage, upper(i.currency) AS currency, 'i' AS side, i.invoice_id AS id,
               i.due_date AS at, i.amount_total AS amount
        FROM int_invoices AS i
        JOIN balanced AS c ON c.entity = i.entity AND c.erp_lettrage = i.erp_lettrage AND c.currency = upper(i.currency)
        WHERE c.per_receipt AND coalesce(i.erp_amount_open, 0) = 0
        UNION ALL
        SELECT r.entity, r.erp_lettrage, r.currency, 'r', r.payment_id, r.paid_on, r.amount
        FROM receipts AS r
        JOIN balanced AS c ON c.entity = r.entity AND c.erp_lettrage = r.erp_lettrage AND c.currency = r.currency
        WHERE c.per_receipt
    ) AS d
), by_receipt AS (
    SELECT i.entity, i.id AS invoice_id, r.id AS payment_id, r.at AS settled_on, i.erp_lettrage, c.received,
           {{ overlap('r.start_at', 'r.amount', 'i.start_at', 'i.amount') }} AS applied
    FROM laid AS i
    JOIN laid AS r ON r.entity = i.entity AND r.erp_lettrage = i.erp_lettrage AND r.currency = i.currency
                  AND r.side = 'r'
    JOIN balanced AS c ON c.entity = i.entity AND c.erp_lettrage = i.erp_lettrage AND c.currency = i.currency
    WHERE i.side = 'i'
      AND {{ overlap('r.start_at', 'r.amount', 'i.start_at', 'i.amount') }} > 0
), applications AS (
    SELECT entity, invoice_id, payment_id, sum(amount) AS amount
    FROM ({{ union('erp_applications') }}) AS a
    GROUP BY entity, invoice_id, payment_id
), listed AS (
    -- the receipts an invoice lists, one row each (only invoices the ERP shows paid, in full or in part),
    -- latest first
    SELECT i.entity, i.invoice_id, i.erp_lettrage, r.payment_id, r.amount, r.paid_on, ap.amount AS applied,
           row_number() OVER (PARTITION BY i.entity, i.invoice_id ORDER BY r.paid_on DESC, r.payment_id DESC) AS rn,
           count(ap.amount) OVER (PARTITION BY i.entity, i.invoice_id) AS n_applied,
           count(*) OVER (PARTITION BY i.entity, i.invoice_id) AS n_listed,
           sum(r.amount) OVER (PARTITION BY i.entity, i.invoice_id) AS received
    FROM (
        SELECT entity, invoice_id, source_system, erp_lettrage, upper(currency) AS currency,
               {{ split_list('erp_lettrage') }} AS listed_id
        FROM int_invoices
        WHERE doc_type = 'invoice' AND amount_total > 0 AND erp_amount_open < amount_total AND erp_lettrage <> ''
    ) AS i
    JOIN all_receipts AS r
      ON r.entity = i.entity AND r.source_system = i.source_system AND r.source_id = i.listed_id AND r.currency = i.currency
    LEFT JOIN applications AS ap
      ON ap.entity = i.entity AND ap.invoice_id = i.invoice_id AND ap.payment_id = r.payment_id
)
SELECT entity, invoice_id, payment_id, settled_on, erp_lettrage, received, CAST(NULL AS DECIMAL(18,2)) AS applied
FROM by_code
UNION ALL
SELECT entity, invoice_id, payment_id, settled_on, erp_lettrage, received, CAST(applied AS DECIMAL(18,2))
FROM by_receipt
UNION ALL
-- each listed receipt with what it applied, when the ERP says so for every one of them
SELECT entity, invoice_id, payment_id, paid_on, erp_lettrage, received, applied
FROM listed AS b
WHERE n_applied = n_listed
  AND NOT EXISTS (SELECT 1 FROM by_code AS c WHERE c.entity = b.entity AND c.invoice_id = b.invoice_id)
  AND NOT EXISTS (SELECT 1 FROM by_receipt AS c WHERE c.entity = b.entity AND c.invoice_id = b.invoice_id)
UNION ALL
SELECT entity, invoice_id, max(CASE WHEN rn = 1 THEN payment_id END), max(paid_on), max(erp_lettrage), sum(amount),
       CAST(NULL AS DECIMAL(18,2))
FROM listed AS b
WHERE n_applied < n_listed
  AND NOT EXISTS (SELECT 1 FROM by_code AS c WHERE c.entity = b.entity AND c.invoice_id = b.invoice_id)
  AND NOT EXISTS (SELECT 1 FROM by_receipt AS c WHERE c.entity = b.entity AND c.invoice_id = b.invoice_id)
GROUP BY entity, invoice_id
