-- Every incoming money movement from a customer: provider payments and ERP receipts
-- from staging, plus the bank statement's customer credits (a credit that is neither
-- a provider payout, a return, a transfer from the group's own accounts, a factor's advance or reserve
-- release (mappings/factoring.yaml), by its transaction
-- code a loan, interest or the like, nor money the ERP booked to no customer account). Bank
-- transfers find their customer by IBAN here; reconciliation finds the rest. A credit the bank
-- later returned (a direct debit sent back AC04, MD06, ...: same EndToEndId) is a failed payment:
-- it settles nothing, and the reconciliation reopens the invoice it named and raises a
-- failed_debit exception. A credit we paid back by an ordinary outgoing transfer naming a refund (a
-- duplicate payment sent back) is refunded: it settles nothing and is no customer credit either. A tax
-- office paying tax back is no customer (mappings/bank_codes.yaml tax_refunds). A credit paid in another currency
-- than its invoice's is taken for what the payer instructed, else for what the ERP booked it as (erp_converted).
-- payout_id is the payout whose composition lists the payment (the provider's own attribution: for Stripe,
-- the payout whose balance transactions list its charge, a failed payout included); banked_payout_id the
-- payout whose bank credit carried its money: the same, or when that payout failed, the later payout that
-- sent the money again (its payout_failure line names the failed payout: fct_payout_component
-- failed_payout_id), followed through repeated failures; null while the money is back in the balance.
WITH RECURSIVE staged AS (
    {{ union('payments') }}
),
resent AS (
    -- a failed payout -> the later payout that pays its money out again
    SELECT entity, failed_payout_id, min(payout_id) AS payout_id
    FROM fct_payout_component
    WHERE failed_payout_id IS NOT NULL
    GROUP BY entity, failed_payout_id
),
banked_chain (entity, payout_id, at_payout_id, hops) AS (
    SELECT entity, payout_id, payout_id, 0 FROM fct_payout
    UNION ALL
    SELECT c.entity, c.payout_id, r.payout_id, c.hops + 1
    FROM banked_chain AS c
    JOIN fct_payout AS f ON f.entity = c.entity AND f.payout_id = c.at_payout_id AND f.status IN {{ payout_not_banked() }}
    JOIN resent AS r ON r.entity = c.entity AND r.failed_payout_id = c.at_payout_id
    WHERE c.hops < 20
),
banked AS (
    -- each payout's last link: the payout that reached the bank, or none yet (still failed)
    SELECT c.entity, c.payout_id,
           CASE WHEN f.status IN {{ payout_not_banked() }} THEN NULL ELSE c.at_payout_id END AS banked_payout_id
    FROM (SELECT entity, payout_id, at_payout_id,
                 row_number() OVER (PARTITION BY entity, payout_id ORDER BY hops DESC) AS rn
          FROM banked_chain) AS c
    JOIN fct_payout AS f ON f.entity = c.entity AND f.payout_id = c.at_payout_id
    WHERE c.rn = 1
),
customer_keys AS (
    {{ customer_keys() }}
),
customer_emails AS (
    {{ customer_emails() }}
),
converted AS (
    -- provider payments charged in another currency than the money settled (a EUR card charge Stripe settled
    -- in GBP): the staged amount is what settled, instructed_amount/_currency what was charged
    SELECT entity, payment_id, upper(currency) AS currency, upper(instructed_currency) AS instructed_currency,
           reference
    FROM staged
    WHERE channel <> 'erp' AND instructed_amount > 0 AND upper(instructed_currency) <> upper(currency)
),
named_currencies AS (
    -- the currencies of the invoices such a payment names (a word of its reference is the invoice's number,
    -- separators aside)
    SELECT DISTINCT w.entity, w.payment_id, upper(i.currency) AS currency
    FROM (SELECT entity, payment_id,
                 unnest(regexp_split_to_array(upper(coalesce(reference, '')), '[^A-Z0-9/._-]+')) AS word
          FROM converted) AS w
    JOIN int_invoices AS i ON i.entity = w.entity AND i.doc_type = 'invoice'
     AND translate(upper(trim(i.invoice_number)), '/._- ', '') = translate(w.word, '/._-', '')
    WHERE length(translate(w.word, '/._-', '')) >= 4
),
as_charged AS (
    -- paid as charged when it names an invoice in the charged currency; when it names none in either, when
    -- the entity invoices in the charged currency (as bank transfers take the instructed currency below):
    -- else the money settled is what the books can match (a GBP book's invoice charged in EUR)
    SELECT v.entity, v.payment_id FROM converted AS v
    WHERE EXISTS (SELECT 1 FROM named_currencies AS n
                  WHERE n.entity = v.entity AND n.payment_id = v.payment_id AND n.currency = v.instructed_currency)
       OR (NOT EXISTS (SELECT 1 FROM named_currencies AS n
                       WHERE n.entity = v.entity AND n.payment_id = v.payment_id AND n.currency = v.currency)
           AND EXISTS (SELECT 1 FROM int_invoices AS i
                       WHERE i.entity = v.entity AND upper(i.currency) = v.instructed_currency))
),
provider_and_erp AS (
    -- a provider payment's customer as the ERP keys it (the ERP's own receipts already are)
    SELECT s.entity, s.payment_id, s.channel,
           CASE WHEN s.channel = 'erp' OR c.customer_id IS NOT NULL THEN s.customer_id
                WHEN s.customer_id IS NULL THEN e.customer_id
                ELSE coalesce(k.customer_id, z.customer_id, s.customer_id) END AS customer_id,
           CASE WHEN ac.payment_id IS NOT NULL THEN s.instructed_amount ELSE s.amount END AS amount,
           -- (the fee at the charge's own rate when the payment is as charged)
           CASE WHEN ac.payment_id IS NOT NULL THEN round(s.fee * s.instructed_amount / nullif(s.amount, 0), 2)
                ELSE s.fee END AS fee,
           CASE WHEN ac.payment_id IS NOT NULL THEN upper(s.instructed_currency) ELSE s.currency END AS currency,
           s.paid_on, s.status, s.reference, s.payer_name, s.payer_iban, s.payout_id,
           s.failure_reason, s.erp_lettrage, s.instructed_amount, upper(s.instructed_currency) AS instructed_currency,
           s.mandate_id,
           -- (a payout not loaded yet: its own id)
           CASE WHEN bk.payout_id IS NOT NULL THEN bk.banked_payout_id ELSE s.payout_id END AS banked_payout_id,
           s.source_system, s.source_id
    FROM staged AS s
    LEFT JOIN as_charged AS ac ON ac.entity = s.entity AND ac.payment_id = s.payment_id
    LEFT JOIN banked AS bk ON bk.entity = s.entity AND bk.payout_id = s.payout_id
    LEFT JOIN dim_customer AS c ON c.entity = s.entity AND c.customer_id = s.customer_id
    {{ join_customer_keys('s.customer_id', 's.entity') }}
    -- a provider payment whose metadata names no customer: the customer paying from its master's email address
    LEFT JOIN customer_emails AS e ON e.entity = s.entity AND e.email = s.payer_email AND s.channel <> 'erp'
),
provider_lines AS (
    SELECT bank_line_id FROM int_payout_bank_links
),
bank_erp_pairs AS (
    -- each bank credit and the ERP's bank movement of exactly its amount and currency within the ERP receipt window
    -- of mappings/matching.yaml (erp.receipt_days_*_bank), when neither has another such partner
    SELECT entity, bank_line_id, currency, source_system, source_id, customer_money FROM (
        SELECT b.entity, b.bank_line_id, upper(b.currency) AS currency, m.source_system, m.source_id, m.customer_money,
               count(*) OVER (PARTITION BY b.entity, b.bank_line_id) AS movements,
               count(*) OVER (PARTITION BY m.entity, m.source_system, m.source_id) AS credits
        FROM fct_bank_line AS b
        JOIN ({{ union('erp_movements') }}) AS m
          ON m.entity = b.entity AND upper(m.currency) = upper(b.currency) AND m.amount = b.amount
         AND m.booked_on >= b.booking_date - {{ erp_window('b.entity', 'before') }}
         AND m.booked_on <= b.booking_date + {{ erp_window('b.entity', 'after') }}
        WHERE b.amount > 0 AND b.return_reason IS NULL
    ) AS pairs
    WHERE movements = 1 AND credits = 1
),
not_customer_money AS (
    -- credits the ERP booked against no customer account (a VAT refund on 44567, a deposit returned on
    -- 275: stg_*__bank_movements customer_money). A credit another movement could be stays a payment.
    SELECT bank_line_id FROM bank_erp_pairs WHERE NOT customer_money
),
erp_converted AS (
    -- a credit the customer converted itself (a USD invoice paid in euros, nothing instructed) that the ERP booked
    -- on its account in the invoice's currency (a FEC's 411 lines with Montantdevise/Idevise, the 512 line in
    -- euros): its movement's customer lines all in one other currency the entity invoices in. The credit is owed in
    -- what the ERP booked it as, the sum of those lines, as a credit whose payer instructed that currency is; the
    -- amount as banked stays on fct_bank_line.
    SELECT p.entity, p.bank_line_id, r.currency, r.amount
    FROM bank_erp_pairs AS p
    JOIN (
        SELECT entity, source_system, source_id, min(upper(currency)) AS currency, sum(amount) AS amount
        FROM staged
        WHERE channel = 'erp' AND status = 'succeeded'
        GROUP BY entity, source_system, source_id
        HAVING min(upper(currency)) = max(upper(currency))
    ) AS r ON r.entity = p.entity AND r.source_system = p.source_system AND r.source_id = p.source_id
    WHERE p.customer_money AND r.currency <> p.currency AND r.amount > 0
      AND EXISTS (SELECT 1 FROM int_invoices AS i WHERE i.entity = r.entity AND upper(i.currency) = r.currency)
),
bank_transfers AS (
    SELECT
        b.entity,
        b.bank_line_id AS payment_id,
        'bank_transfer' AS channel,
        c.customer_id,
        -- Paid in another currency than the account's (a USD invoice paid into a EUR account): what the
        -- payer instructed is what its invoice owes, when the entity invoices in that currency (an ERP
        -- keeping the document currency, as SAP does); the amount as booked stays on fct_bank_line. An
        -- entity whose books are all in the account's currency (a FEC) matches the booked amount.
        -- A credit the payer converted itself and the ERP booked in the invoice's currency: what the ERP booked.
        CASE WHEN fx.currency IS NOT NULL THEN b.instructed_amount WHEN ec.bank_line_id IS NOT NULL THEN ec.amount
             ELSE b.amount END AS amount,
        0 AS fee,
        CASE WHEN fx.currency IS NOT NULL THEN b.instructed_currency WHEN ec.bank_line_id IS NOT NULL THEN ec.currency
             ELSE b.currency END AS currency,
        b.booking_date AS paid_on,
        CASE WHEN rt.credit_line_id IS NOT NULL THEN 'failed' WHEN rf.credit_line_id IS NOT NULL THEN 'refunded'
             ELSE 'succeeded' END AS status,
        concat_ws(' ', b.remittance, b.end_to_end_id) AS reference,
        b.counterparty_name AS payer_name,
        b.counterparty_iban AS payer_iban,
        CAST(NULL AS TEXT) AS payout_id,
        CASE WHEN b.instructed_currency <> b.currency AND b.instructed_amount > 0 THEN b.instructed_amount END
            AS instructed_amount,
        CASE WHEN b.instructed_currency <> b.currency AND b.instructed_amount > 0 THEN b.instructed_currency END
            AS instructed_currency,
        CAST(NULL AS TEXT) AS mandate_id,
        CAST(NULL AS TEXT) AS banked_payout_id,
        CASE WHEN rt.credit_line_id IS NOT NULL THEN
            'returned ' || coalesce(rt.return_reason, '') || ' on ' || CAST(rt.returned_on AS TEXT)
            || ', bank line ' || rt.return_line_id
             WHEN rf.credit_line_id IS NOT NULL THEN
            'paid back on ' || CAST(rf.refunded_on AS TEXT) || ', bank line ' || rf.refund_line_id END AS failure_reason,
        b.source_system,
        b.source_id
    FROM fct_bank_line AS b
    LEFT JOIN ({{ bank_returns('fct_bank_line') }}) AS rt
      ON rt.entity = b.entity AND rt.credit_line_id = b.bank_line_id
    -- a credit we paid back by an ordinary transfer (a duplicate payment refunded): mappings/bank_codes.yaml refunds
    LEFT JOIN ({{ bank_refunds('fct_bank_line', refund_transfers.words, refund_transfers.days) }}) AS rf
      ON rf.entity = b.entity AND rf.credit_line_id = b.bank_line_id
    LEFT JOIN (
        SELECT entity, iban, min(customer_id) AS customer_id
        FROM dim_customer
        WHERE iban IS NOT NULL
        GROUP BY entity, iban
        HAVING count(*) = 1
    ) AS c ON c.entity = b.entity AND c.iban = b.counterparty_iban
    LEFT JOIN (SELECT DISTINCT entity, upper(currency) AS currency FROM int_invoices) AS fx
      ON fx.entity = b.entity AND fx.currency = b.instructed_currency
     AND b.instructed_currency <> b.currency AND b.instructed_amount > 0
    LEFT JOIN erp_converted AS ec ON ec.entity = b.entity AND ec.bank_line_id = b.bank_line_id
    WHERE b.amount > 0
      AND b.return_reason IS NULL
      -- loans drawn, interest, the bank's own corrections: not customer money (mappings/bank_codes.yaml)
      {% for code in not_customer_money.domains %}
      AND coalesce(b.bank_tx_code, '') NOT LIKE '{{ code }}/%'
      {% endfor %}
      {% for code in not_customer_money.subfamilies %}
      AND coalesce(b.bank_tx_code, '') NOT LIKE '%/{{ code }}'
      {% endfor %}
      -- a tax office paying tax back (its name and a tax word in the remittance): mappings/bank_codes.yaml
      {% if tax_refunds.payers and tax_refunds.words %}
      AND NOT ({{ regex_matches("upper(coalesce(b.counterparty_name, ''))", tax_refunds.payer_pattern) }}
               AND {{ regex_matches("upper(coalesce(b.remittance, ''))", tax_refunds.word_pattern) }})
      {% endif %}
      AND b.bank_line_id NOT IN (SELECT bank_line_id FROM provider_lines)
      AND b.bank_line_id NOT IN (SELECT bank_line_id FROM not_customer_money)
      -- a provider's payout not yet paired with its payout data (a few days late) is not a customer
      -- payment; for an entity without that provider's data it is money to look at, not to drop
      {% for name in provider_payer_names %}
      AND NOT (upper(coalesce(b.counterparty_name, '')) LIKE '%{{ name }}%'
               AND EXISTS (SELECT 1 FROM fct_payout AS fp
                           WHERE fp.entity = b.entity AND fp.source_system = '{{ name | lower }}'))
      {% endfor %}
      -- money from the group's own accounts (cash pooling, a transfer between our banks): mappings/entities.yaml
      {% if own_ibans %}
      AND coalesce(b.counterparty_iban, '') NOT IN ({% for iban in own_ibans %}'{{ iban }}'{% if not loop.last %}, {% endif %}{% endfor %})
      {% endif %}
      -- a factor's advances and reserve releases (mappings/factoring.yaml counterparty): the factor's money,
      -- reconciled with its assignments by the factoring step, not a customer paying an invoice
      {% if factor_ibans %}
      AND upper(replace(coalesce(b.counterparty_iban, ''), ' ', '')) NOT IN ({% for iban in factor_ibans %}'{{ iban }}'{% if not loop.last %}, {% endif %}{% endfor %})
      {% endif %}
      {% if factor_names %}
      AND upper(trim(coalesce(b.counterparty_name, ''))) NOT IN ({% for name in factor_names %}'{{ name }}'{% if not loop.last %}, {% endif %}{% endfor %})
      {% endif %}
)
SELECT entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, reference,
       payer_name, payer_iban, payout_id, failure_reason, instructed_amount, instructed_currency, mandate_id,
       banked_payout_id, source_system, source_id, now() AS _loaded_at
FROM provider_and_erp
UNION ALL
SELECT entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, reference,
       payer_name, payer_iban, payout_id, failure_reason, instructed_amount, instructed_currency, mandate_id,
       banked_payout_id, source_system, source_id, now() AS _loaded_at
FROM bank_transfers
