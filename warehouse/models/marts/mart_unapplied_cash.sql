-- Unapplied cash: money received from customers by a date that no auto or confirmed match
-- applies to an invoice (no usable reference, an amount that fits nothing or several things,
-- the excess of an overpayment, an unknown payer), less money paid back to a customer that no credit note
-- takes yet (negative). Until a person applies it, it is the
-- customer's credit: the entity's receivables as the customer ledger shows them are the
-- encours (mart_open_receivables, invoices only, as CONTRACT.md defines it) minus this mart,
-- whatever the lettering. Kept apart rather than as a status of the encours so that the
-- encours keeps its contract definition and still sums with the aged balance.
-- Card and debit payments count net of their refunds; failed, pending and charged-back
-- payments moved no money; a payout's bank line is the provider's money, not a customer's
-- (its payments count); the ERP's own receipts (channel erp) are evidence of bank money
-- already counted, except where no bank statement or provider loaded can show that money (a receipt
-- before the entity's bank and provider data begin, or in a currency none of them shows: an ERP-only
-- entity such as a NetSuite book without statements): there the ERP is the only evidence, and what it
-- left unapplied (a payment on account, an overpayment) is the customer's credit, as 16_erp_settled
-- settles such receipts' invoices on its word; what such an ERP paid back to the customer (a negative receipt no credit
-- note takes: the refund of an overpayment or of a payment on account, a receipt reversed) comes off that credit.
-- customer_id is the payment's, else the one customer whose
-- invoices it paid, else the customer of the invoice its open overpayment exception names (a transfer for an
-- invoice already paid by card), else the one customer its open exception found the payer to be (an unknown
-- account whose name or remittance says who pays: a payment on account); NULL for a payer no rule could identify.
WITH refunds AS (
    {{ refunded_by_payment() }}
),
paid_back AS (
    -- an overpayment's excess paid back to the payer by transfer (50_exceptions) is nobody's credit
    {{ paid_back_by_payment() }}
),
applied AS (
    -- and whose invoices it paid: a payer the bank did not name (no IBAN on file) is the customer its
    -- remittance's invoices belong to, and what it paid beyond them is that customer's credit
    SELECT m.entity, m.payment_id, sum(m.amount_applied) AS applied,
           CASE WHEN min(i.customer_id) = max(i.customer_id) THEN min(i.customer_id) END AS paid_for
    FROM fct_match AS m
    LEFT JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
    WHERE m.state IN ('auto', 'confirmed') AND m.rule <> 'credit_note'
    GROUP BY m.entity, m.payment_id
),
seen AS (
    -- what the bank and provider data show, per entity and currency: from which day (warehouse.sql shown_money)
    {{ shown_money() }}
),
named AS (
    SELECT e.entity, e.payment_id, min(i.customer_id) AS customer_id
    FROM fct_reconciliation_exception AS e
    JOIN fct_invoice AS i ON i.entity = e.entity AND i.invoice_id = e.invoice_id
    WHERE e.kind = 'overpayment' AND e.resolved_at IS NULL AND e.payment_id IS NOT NULL
    GROUP BY e.entity, e.payment_id
),
found AS (
    -- the one customer the reconciliation found the payer to be (name, alias, remittance) on an open exception
    SELECT entity, payment_id, min(customer_id) AS customer_id
    FROM fct_reconciliation_exception
    WHERE resolved_at IS NULL AND payment_id IS NOT NULL AND customer_id IS NOT NULL
    GROUP BY entity, payment_id HAVING min(customer_id) = max(customer_id)
),
received AS (
    SELECT p.entity, p.payment_id, coalesce(p.customer_id, a.paid_for, n.customer_id, f.customer_id) AS customer_id,
           p.currency, p.channel, p.amount,
           p.amount - coalesce(r.refunded, 0) - coalesce(a.applied, 0) - coalesce(b.paid_back, 0) AS unapplied
    FROM fct_payment AS p
    LEFT JOIN refunds AS r ON r.entity = p.entity AND r.payment_id = p.payment_id
    LEFT JOIN paid_back AS b ON b.entity = p.entity AND b.payment_id = p.payment_id
    LEFT JOIN applied AS a ON a.entity = p.entity AND a.payment_id = p.payment_id
    LEFT JOIN named AS n ON n.entity = p.entity AND n.payment_id = p.payment_id
    LEFT JOIN found AS f ON f.entity = p.entity AND f.payment_id = p.payment_id
    WHERE p.status = 'succeeded' AND p.paid_on <= {{ d(as_of) }}
      AND NOT EXISTS (SELECT 1 FROM fct_payout AS o WHERE o.entity = p.entity AND o.bank_line_id = p.payment_id)
      AND (p.channel <> 'erp' OR NOT EXISTS (
          SELECT 1 FROM seen AS s WHERE s.entity = p.entity AND s.currency = upper(p.currency) AND s.since <= p.paid_on))
      -- an ERP receipt of the last days before the data begin that a bank or provider credit of its amount follows
      -- within them is that credit's money (16_erp_settled leaves it to the bank line): not counted a second time
      AND NOT (p.channel = 'erp' AND EXISTS (
          SELECT 1 FROM fct_payment AS b
          JOIN seen AS s ON s.entity = b.entity AND s.currency = upper(b.currency)
          WHERE b.entity = p.entity AND b.channel <> 'erp' AND b.status = 'succeeded' AND b.amount = p.amount
            AND upper(b.currency) = upper(p.currency) AND b.paid_on >= p.paid_on
            AND p.paid_on >= s.since - {{ erp_window('p.entity', 'before_data') }}
            AND b.paid_on < s.since + {{ erp_window('p.entity', 'before_data') }}))
),
paid_out AS (
    -- money paid back to a customer that no credit note takes yet (a transfer two of its credit notes of one
    -- amount fit: suggested, 15_credit_notes): it is set against the customer's credit, negatively, until a person
    -- says which credit note it paid back (each credit note still counts in the encours)
    SELECT m.entity, m.payment_id, min(i.customer_id) AS customer_id, min(upper(m.currency)) AS currency,
           min(m.amount_applied) AS unapplied
    FROM fct_match AS m
    JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
    JOIN fct_bank_line AS l ON l.entity = m.entity AND l.bank_line_id = m.payment_id
    WHERE m.rule = 'credit_note_refund' AND m.state = 'suggested' AND l.booking_date <= {{ d(as_of) }}
      AND NOT EXISTS (SELECT 1 FROM fct_match AS k WHERE k.entity = m.entity AND k.payment_id = m.payment_id
                      AND k.state IN ('auto', 'confirmed'))
    GROUP BY m.entity, m.payment_id
    HAVING min(i.customer_id) = max(i.customer_id)
),
grouped AS (
    SELECT entity, customer_id, currency, sum(unapplied) AS amount_unapplied,
           sum(CASE WHEN paid_out THEN 0 ELSE 1 END) AS payment_count
    FROM (
        SELECT entity, customer_id, currency, unapplied, FALSE AS paid_out FROM received WHERE unapplied > 0
        UNION ALL
        -- the ERP's money paid back that no credit note takes, where the ERP is the only evidence
        SELECT entity, customer_id, currency, unapplied, TRUE FROM received
        WHERE channel = 'erp' AND amount < 0 AND unapplied < 0
        UNION ALL
        SELECT entity, customer_id, currency, unapplied, TRUE FROM paid_out
    ) AS u
    GROUP BY entity, customer_id, currency
)
SELECT
    {{ d(as_of) }} AS as_of,
    g.entity, g.customer_id, c.name AS customer_name, g.currency, g.amount_unapplied, g.payment_count,
    {{ entity_currency('g.entity') }} AS entity_currency,
    round(g.amount_unapplied * {{ fx_rate('g.entity', 'g.currency', d(as_of)) }}, 2) AS amount_unapplied_entity,
    now() AS _loaded_at
FROM grouped AS g
LEFT JOIN dim_customer AS c ON c.entity = g.entity AND c.customer_id = g.customer_id
