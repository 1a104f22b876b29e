-- Derived invoice state (fct_invoice) from int_invoices + matches + credit notes + decisions.
-- amount_open is what is still owed after every auto or confirmed match (adjustments
-- included) and credit note; status follows CONTRACT.md.
-- An incremental run with the same as-of date rewrites only the invoices it may have moved
-- (rc_affected, see 60_write_match.sql); a new as-of date moves "overdue" everywhere.
{% set only = " AND invoice_id IN (SELECT invoice_id FROM rc_affected)" if affected_only else "" %}
DELETE FROM fct_invoice WHERE entity = :entity{{ only }};

INSERT INTO fct_invoice (entity, invoice_id, invoice_number, customer_id, doc_type, issue_date, due_date, currency,
                         amount_total, amount_open, status, disputed, factored, erp_lettrage, write_off,
                         source_system, source_id, _loaded_at)
WITH {% if erp_write_offs %}wo AS (
    -- the credits the ERP booked to write a debt off (int_invoices.write_off): what they close is written off
    SELECT invoice_id FROM {{ invoices_table }} WHERE entity = :entity AND write_off
), {% endif %}m AS (
    SELECT x.entity, x.invoice_id,
           sum(CASE WHEN x.rule <> 'credit_note' THEN x.amount_applied + coalesce(x.adjustment, 0) ELSE 0 END) AS paid,
           sum(CASE WHEN x.rule = 'credit_note' THEN x.amount_applied ELSE 0 END) AS credited,
           {% if erp_write_offs %}sum(CASE WHEN x.rule = 'credit_note' AND wo.invoice_id IS NOT NULL
                    THEN x.amount_applied ELSE 0 END){% else %}0{% endif %} AS written
    FROM fct_match AS x
    {% if erp_write_offs %}LEFT JOIN wo ON wo.invoice_id = x.payment_id{% endif %}
    WHERE x.state IN ('auto', 'confirmed') AND x.entity = :entity
    {% if affected_only %}AND x.invoice_id IN (SELECT invoice_id FROM rc_affected){% endif %}
    GROUP BY x.entity, x.invoice_id
), cn AS (
    SELECT entity, payment_id AS invoice_id, sum(amount_applied) AS used
    FROM fct_match WHERE state IN ('auto', 'confirmed') AND rule = 'credit_note' AND entity = :entity
    {% if affected_only %}AND payment_id IN (SELECT invoice_id FROM rc_affected){% endif %}
    GROUP BY entity, payment_id
), d AS (
    SELECT entity, invoice_id,
           max(CASE WHEN kind = 'write_off' THEN 1 ELSE 0 END) AS written_off,
           sum(CASE WHEN kind = 'write_off' THEN amount END) AS write_off_amount,
           sum(CASE WHEN kind = 'write_off' AND amount IS NULL THEN 1 ELSE 0 END) AS write_off_all
    FROM decision WHERE invoice_id IS NOT NULL AND entity = :entity GROUP BY entity, invoice_id
), od AS (
    -- in dispute while the invoice's latest dispute decision does not close it (decisions.open_disputes_sql)
    {{ open_disputes("entity = :entity") }}
), cb AS (
    -- a card or direct-debit payment of it the customer disputed with its bank (Stripe dispute, GoCardless
    -- chargeback): the invoice is in dispute until a person resolves the chargeback exception (nobody chases it)
    SELECT DISTINCT invoice_id FROM fct_reconciliation_exception
    WHERE entity = :entity AND kind = 'chargeback' AND resolved_at IS NULL AND invoice_id IS NOT NULL
), f AS (
    SELECT DISTINCT entity, invoice_id FROM fct_factoring_assignment
    WHERE entity = :entity AND coalesce(status, '') NOT IN ('repurchased', 'cancelled', 'rejected', 'recourse')
), base AS (
    SELECT i.*,
           coalesce(m.paid, 0) AS paid, coalesce(m.credited, 0) AS credited, coalesce(m.written, 0) AS written,
           coalesce(cn.used, 0) AS used,
           CASE WHEN od.invoice_id IS NOT NULL OR cb.invoice_id IS NOT NULL THEN 1 ELSE 0 END AS d_disputed,
           coalesce(d.written_off, 0) AS written_off,
           CASE WHEN coalesce(d.write_off_all, 0) > 0 THEN NULL ELSE coalesce(d.write_off_amount, 0) END AS wo_amount,
           CASE WHEN f.invoice_id IS NOT NULL THEN 1 ELSE 0 END AS is_factored
    FROM {{ invoices_table }} AS i
    -- (every input here is of this entity: joining on the id alone is a third cheaper than on (entity, id))
    LEFT JOIN m ON m.invoice_id = i.invoice_id
    LEFT JOIN cn ON cn.invoice_id = i.invoice_id
    LEFT JOIN d ON d.invoice_id = i.invoice_id
    LEFT JOIN od ON od.invoice_id = i.invoice_id
    LEFT JOIN cb ON cb.invoice_id = i.invoice_id
    LEFT JOIN f ON f.invoice_id = i.invoice_id
    WHERE i.invoice_id IS NOT NULL AND i.entity = :entity
    {% if affected_only %}AND i.invoice_id IN (SELECT invoice_id FROM rc_affected){% endif %}
), opened AS (
    SELECT base.*, amount_total - paid - credited + used AS open_before_wo FROM base
), final AS (
    SELECT opened.*,
           CASE WHEN written_off = 1 AND wo_amount IS NULL THEN 0
                WHEN written_off = 1 AND doc_type = 'invoice' THEN greatest(0, open_before_wo - wo_amount)
                ELSE open_before_wo END AS open_now
    FROM opened
)
SELECT entity, invoice_id, invoice_number, customer_id, doc_type, issue_date, due_date, upper(currency),
       CAST(amount_total AS DECIMAL(18,2)), CAST(open_now AS DECIMAL(18,2)),
       CASE WHEN written_off = 1 AND open_now = 0 THEN 'written_off'
            -- (closed mostly by what the ERP wrote off, more than was paid or credited otherwise: written off)
            WHEN open_now = 0 AND amount_total <> 0 AND written > 0 AND written > paid AND written >= credited - written
                 THEN 'written_off'
            WHEN is_factored = 1 AND open_now <> 0 THEN 'factored'
            -- (closed mostly by credit notes; half paid and half credited, the customer paid: paid)
            WHEN open_now = 0 AND amount_total <> 0 AND credited > 0 AND credited > paid THEN 'credited'
            WHEN doc_type = 'invoice' AND open_now <= 0 THEN 'paid'
            WHEN doc_type = 'credit_note' AND open_now = 0 THEN 'paid'
            WHEN doc_type = 'credit_note' THEN 'open'
            WHEN coalesce(disputed, false) OR d_disputed = 1 THEN 'disputed'
            -- (a credit note set against part of it pays nothing: nothing paid, it is open or overdue)
            WHEN doc_type = 'invoice' AND paid > 0 THEN 'partially_paid'
            WHEN due_date < CAST(:as_of AS DATE) THEN 'overdue'
            ELSE 'open' END,
       coalesce(disputed, false) OR d_disputed = 1,
       is_factored = 1,
       erp_lettrage, coalesce(write_off, false), source_system, source_id, CAST(:now AS TIMESTAMP WITH TIME ZONE)
FROM final;
{{ analyze('fct_invoice', full_only=True) }}
