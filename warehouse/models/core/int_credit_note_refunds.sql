-- Credit notes paid back to the customer (a credit note issued on an invoice already paid, refunded by transfer
-- rather than left as credit): one row per credit note and the money that refunded it. Without it such a
-- credit note stays open for ever, and the customer's encours and the entity's unapplied credit are wrong by
-- its amount. The money is a bank debit (refund_id: its bank_line_id), or, before the statements begin or in
-- a currency none shows, the ERP's own refund entry (refund_id: the ERP receipt's payment_id), the ERP's word
-- being then the only evidence, as for 16_erp_settled. Evidence, strongest first (``evidence``):
--  * named: the debit's remittance names the credit note (its number, separators aside, ending in digits; the
--    longest number named when one contains another), for at most the credit note's amount; a debit naming
--    several credit notes pays them back together when it is exactly their total;
--  * erp_lettrage: the ERP lettered the credit note with its refund entry (a FEC 411 debit in a bank journal,
--    an ERP receipt of negative amount), the code balanced (what its documents total is what its receipts
--    total), or its refund applies the credit note (NetSuite's customer refund, Sage Accounting's, SAP Business
--    One's outgoing payment to the customer: the ERP's applications, for what each applied); the debit of exactly the entry's amount booked within the ERP window
--    of it (matching.yaml erp.receipt_days_*_bank), else, before the bank data begin, the entry itself;
--  * customer_amount: a debit to an account that is one customer's (dim_customer.iban; for a customer the master
--    gives no IBAN, the account it was seen paying its invoices from, or one people taught) of exactly the amount
--    of that customer's one credit note not lettered in the ERP, issued by the debit's date, that no other debit
--    could be; customer_amount_ambiguous: the customer holds several such credit notes (which one it pays back
--    is not known: the reconciliation suggests each and queues an `ambiguous` exception).
-- A debit refunds one credit note at most; the reconciliation (15_credit_notes) takes what each still owes.
-- Debits that carry a payout or return a collection are not refunds (int_payout_bank_links, return_reason).
-- shape: credit_note_refunds
-- requires: int_invoices, int_erp_receipts, fct_bank_line, fct_payment, fct_match, dim_customer, int_payout_bank_links
WITH cns AS (
    SELECT entity, invoice_id AS cn_id, customer_id, upper(currency) AS currency, issue_date,
           -amount_total AS cn_amount, coalesce(erp_lettrage, '') AS erp_lettrage,
           {{ norm_ref('invoice_number') }} AS nn,
           {{ regex_group(norm_ref('invoice_number'), '([0-9]+)$') }} AS core
    FROM int_invoices
    WHERE doc_type = 'credit_note' AND amount_total < 0
), debits AS (
    SELECT b.entity, b.bank_line_id, upper(b.currency) AS currency, b.booking_date, -b.amount AS amount,
           upper(coalesce(b.remittance, '')) AS ru, {{ norm_ref('b.remittance') }} AS nr,
           upper(replace(coalesce(b.counterparty_iban, ''), ' ', '')) AS iban
    FROM fct_bank_line AS b
    WHERE b.amount < 0 AND b.return_reason IS NULL
      AND NOT EXISTS (SELECT 1 FROM int_payout_bank_links AS l
                      WHERE l.entity = b.entity AND l.bank_line_id = b.bank_line_id)
), runs AS (
    -- the digit runs of each debit's remittance, as written and with separators taken out ("AV 2025 000030"):
    -- a credit note is looked for only where its number's last digits are one of them (an equality join, not
    -- every debit against every credit note)
    SELECT DISTINCT entity, bank_line_id, run FROM (
        {% for col in ('ru', 'nr') %}
        SELECT entity, bank_line_id,
               {% if engine == 'duckdb' %}unnest(regexp_extract_all({{ col }}, '[0-9]+')){% else %}(regexp_matches({{ col }}, '[0-9]+', 'g'))[1]{% endif %} AS run
        FROM debits WHERE {{ regex_matches(col, '[0-9]{3}') }}
        {% if not loop.last %}UNION ALL{% endif %}
        {% endfor %}
    ) AS r
), hits AS MATERIALIZED (
    -- (the credit notes whose number ends in one of a debit's digit runs: an equality join first, so that Postgres
    -- compares a debit's text with a few credit notes, not every debit with every credit note: 93 s at 50,000 debits
    -- and 10,000 credit notes when it joined debits and credit notes first)
    SELECT x.entity, x.bank_line_id, c.cn_id, c.nn, c.cn_amount, c.currency, c.issue_date
    FROM runs AS x
    JOIN cns AS c ON c.entity = x.entity AND c.core = x.run
    WHERE length(c.nn) >= 5 AND length(c.core) >= 3
), named_all AS (
    SELECT d.entity, d.bank_line_id, d.booking_date, d.amount, d.currency, h.cn_id, h.nn, h.cn_amount
    FROM hits AS h
    JOIN debits AS d ON d.entity = h.entity AND d.bank_line_id = h.bank_line_id
    WHERE h.currency = d.currency AND strpos(d.nr, h.nn) > 0 AND d.booking_date >= h.issue_date
), named_max AS (
    -- (AV202500001 is inside AV2025000012: the longer number named wins; a window, not a self-join, which Postgres
    -- planned as a nested loop over every candidate, 5 s at 4,000)
    SELECT x.*, count(*) OVER (PARTITION BY x.entity, x.bank_line_id) AS n_cn,
           sum(x.cn_amount) OVER (PARTITION BY x.entity, x.bank_line_id) AS cns_amount
    FROM (
        SELECT n.*, first_value(n.nn) OVER (PARTITION BY n.entity, n.bank_line_id
                                            ORDER BY length(n.nn) DESC, n.nn) AS longest
        FROM named_all AS n
    ) AS x
    WHERE NOT (length(x.longest) > length(x.nn) AND strpos(x.longest, x.nn) > 0)
), named AS (
    -- one credit note named, for at most its amount; several, paid back together for exactly their total
    SELECT entity, bank_line_id, cn_id, booking_date AS refunded_on,
           CASE WHEN n_cn = 1 THEN amount ELSE cn_amount END AS amount, currency
    FROM named_max
    WHERE (n_cn = 1 AND amount <= cn_amount) OR (n_cn > 1 AND amount = cns_amount)
), erp_receipts AS (
    SELECT entity, payment_id, currency, amount, paid_on, erp_lettrage
    FROM int_erp_receipts WHERE erp_lettrage IS NOT NULL
), balanced AS (
    -- codes holding a credit note and a refund entry whose documents total what their receipts total
    SELECT r.entity, r.erp_lettrage, r.currency
    FROM (SELECT entity, erp_lettrage, currency, sum(amount) AS received, min(amount) AS min_amount
          FROM erp_receipts GROUP BY entity, erp_lettrage, currency) AS r
    JOIN (SELECT entity, erp_lettrage, upper(currency) AS currency, sum(amount_total) AS billed,
                 min(amount_total) AS min_doc
          FROM int_invoices WHERE coalesce(erp_lettrage, '') <> ''
          GROUP BY entity, erp_lettrage, upper(currency)) AS b
      ON b.entity = r.entity AND b.erp_lettrage = r.erp_lettrage AND b.currency = r.currency
    WHERE r.received = b.billed AND r.min_amount < 0 AND b.min_doc < 0
), laid AS (
    -- the code's refund entries in date order laid against its credit notes by issue date
    SELECT x.*, {{ sum_before('x.amount', 'x.entity, x.erp_lettrage, x.currency, x.side', 'x.at, x.id') }} AS start_at
    FROM (
        SELECT c.entity, c.erp_lettrage, c.currency, 'c' AS side, c.cn_id AS id, c.issue_date AS at,
               c.cn_amount AS amount
        FROM cns AS c JOIN balanced AS k
          ON k.entity = c.entity AND k.erp_lettrage = c.erp_lettrage AND k.currency = c.currency
        UNION ALL
        SELECT r.entity, r.erp_lettrage, r.currency, 'r', r.payment_id, r.paid_on, -r.amount
        FROM erp_receipts AS r JOIN balanced AS k
          ON k.entity = r.entity AND k.erp_lettrage = r.erp_lettrage AND k.currency = r.currency
        WHERE r.amount < 0
    ) AS x
), erp_pairs AS (
    SELECT c.entity, c.id AS cn_id, r.id AS receipt_id, r.at AS booked_on, r.amount AS receipt_amount, r.currency,
           r.erp_lettrage,
           {{ overlap('r.start_at', 'r.amount', 'c.start_at', 'c.amount') }} AS amount
    FROM laid AS c
    JOIN laid AS r ON r.entity = c.entity AND r.erp_lettrage = c.erp_lettrage AND r.currency = c.currency
                  AND r.side = 'r'
    WHERE c.side = 'c' AND {{ overlap('r.start_at', 'r.amount', 'c.start_at', 'c.amount') }} > 0
    UNION ALL
    -- an ERP whose refund lists the credit notes it pays back, with what it paid back of each (no shared code; the
    -- applications of refunds only are summed: an ERP's applications are one row per receipt and invoice)
    SELECT c.entity, c.cn_id, a.payment_id, a.paid_on, a.refunded, c.currency, CAST(NULL AS TEXT),
           least(a.amount, c.cn_amount)
    FROM (SELECT x.entity, x.invoice_id, x.payment_id, min(r.paid_on) AS paid_on, -min(r.amount) AS refunded,
                 min(upper(r.currency)) AS currency, sum(x.amount) AS amount
          FROM ({{ union('erp_applications') }}) AS x
          JOIN int_erp_receipts AS r ON r.entity = x.entity AND r.payment_id = x.payment_id AND r.amount < 0
          GROUP BY x.entity, x.invoice_id, x.payment_id) AS a
    JOIN cns AS c ON c.entity = a.entity AND c.cn_id = a.invoice_id AND c.currency = a.currency
), erp_bank AS (
    -- each refund entry's debit: exactly its amount, within the ERP window, the nearest; each debit once
    SELECT receipt_id, bank_line_id, booking_date FROM (
        SELECT x.*, row_number() OVER (PARTITION BY x.receipt_id ORDER BY x.gap, x.bank_line_id) AS rn_r,
                    row_number() OVER (PARTITION BY x.bank_line_id ORDER BY x.gap, x.receipt_id) AS rn_b
        FROM (
            SELECT r.receipt_id, d.bank_line_id, d.booking_date,
                   abs({{ days_between('r.booked_on', 'd.booking_date') }}) AS gap
            FROM (SELECT DISTINCT entity, receipt_id, booked_on, receipt_amount, currency FROM erp_pairs) AS r
            JOIN debits AS d ON d.entity = r.entity AND d.currency = r.currency AND d.amount = r.receipt_amount
             AND r.booked_on >= {{ add_days('d.booking_date', '-(' ~ erp_window('d.entity', 'before') ~ ')') }}
             AND r.booked_on <= {{ add_days('d.booking_date', erp_window('d.entity', 'after')) }}
            WHERE d.bank_line_id NOT IN (SELECT bank_line_id FROM named)
        ) AS x
    ) AS y WHERE rn_r = 1 AND rn_b = 1
), seen AS (
    {{ shown_money() }}
), erp_rows AS (
    SELECT p.entity, p.cn_id, coalesce(b.bank_line_id, p.receipt_id) AS refund_id,
           coalesce(b.booking_date, p.booked_on) AS refunded_on, p.amount, p.currency,
           'erp_lettrage' AS evidence,
           CASE WHEN b.bank_line_id IS NOT NULL
                THEN 'lettered in the ERP with its refund (' || coalesce('code ' || p.erp_lettrage || ', ', '')
                     || 'entry ' || p.receipt_id || ')'
                ELSE 'refunded in the ERP (' || coalesce('code ' || p.erp_lettrage || ', ', '') || 'entry '
                     || p.receipt_id || ') '
                     || CASE WHEN s.since IS NULL THEN 'in ' || p.currency || ', which no bank statement shows'
                             ELSE 'before the bank statements begin (' || CAST(s.since AS VARCHAR) || ')' END
           END AS detail
    FROM erp_pairs AS p
    LEFT JOIN erp_bank AS b ON b.receipt_id = p.receipt_id
    LEFT JOIN seen AS s ON s.entity = p.entity AND s.currency = p.currency
    WHERE b.bank_line_id IS NOT NULL OR s.since IS NULL OR p.booked_on < s.since
), claimed AS (
    SELECT cn_id FROM named UNION SELECT cn_id FROM erp_rows
), master AS (
    {{ iban_owners() }}
), paid_from AS (
    -- accounts a customer the master gives no IBAN was seen paying from: bank transfers the reconciliation applied
    -- (an earlier run: auto or confirmed) to its invoices only, and the accounts people taught (payer_alias)
    SELECT entity, iban, min(customer_id) AS customer_id FROM (
        SELECT p.entity, upper(replace(p.payer_iban, ' ', '')) AS iban, i.customer_id
        FROM fct_payment AS p
        JOIN fct_match AS m ON m.entity = p.entity AND m.payment_id = p.payment_id
        JOIN int_invoices AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
        WHERE p.channel = 'bank_transfer' AND m.state IN ('auto', 'confirmed')
          AND upper(replace(coalesce(p.payer_iban, ''), ' ', '')) IN (SELECT iban FROM debits WHERE iban <> '')
        {% if has('payer_alias') %}
        UNION ALL
        SELECT entity, upper(replace(value, ' ', '')), customer_id FROM payer_alias WHERE kind = 'iban'
        {% endif %}
    ) AS s
    GROUP BY entity, iban HAVING min(customer_id) = max(customer_id)
), owners AS (
    SELECT entity, iban, customer_id FROM master
    UNION ALL
    SELECT s.entity, s.iban, s.customer_id FROM paid_from AS s
    WHERE NOT EXISTS (SELECT 1 FROM master AS m WHERE m.entity = s.entity AND m.iban = s.iban)
), by_amount AS (
    SELECT d.entity, d.bank_line_id, d.booking_date, d.amount, d.currency, c.cn_id, c.customer_id,
           count(*) OVER (PARTITION BY d.entity, d.bank_line_id) AS n_cn,
           count(*) OVER (PARTITION BY c.entity, c.cn_id) AS n_debit
    FROM debits AS d
    JOIN owners AS o ON o.entity = d.entity AND o.iban = d.iban
    JOIN cns AS c ON c.entity = d.entity AND c.customer_id = o.customer_id AND c.currency = d.currency
                 AND c.cn_amount = d.amount AND c.issue_date <= d.booking_date AND c.erp_lettrage = ''
    WHERE d.iban <> ''
      AND d.bank_line_id NOT IN (SELECT bank_line_id FROM named)
      AND d.bank_line_id NOT IN (SELECT refund_id FROM erp_rows)
      AND c.cn_id NOT IN (SELECT cn_id FROM claimed)
)
SELECT entity, cn_id, bank_line_id AS refund_id, refunded_on, amount, currency, 'named' AS evidence,
       'the transfer names the credit note' AS detail
FROM named
UNION ALL
SELECT entity, cn_id, refund_id, refunded_on, amount, currency, evidence, detail FROM erp_rows
UNION ALL
SELECT entity, cn_id, bank_line_id, booking_date, amount, currency,
       CASE WHEN n_cn = 1 THEN 'customer_amount' ELSE 'customer_amount_ambiguous' END,
       'a transfer of exactly its amount to the account of customer ' || customer_id
       || CASE WHEN n_cn > 1 THEN ', which holds ' || CAST(n_cn AS VARCHAR) || ' credit notes of that amount' ELSE '' END
FROM by_amount WHERE n_debit = 1
