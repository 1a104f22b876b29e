-- Invoices and credit notes of a FEC: the customer-account lines (411…; the customer is
-- CompAuxNum, or an individual account itself: see _fec.jinja)
-- of entries that also post revenue (70…). One document per PieceRef; credit notes
-- come out negative. FEC has no due date: it is the issue date plus the customer's
-- terms from the customers export, else the entity default from mappings.
-- shape: invoices
-- requires: raw_sage_fec_lines
WITH sales_entries AS (
    SELECT DISTINCT entity, journal_code, ecriture_num
    FROM raw_sage_fec_lines
    WHERE compte_num LIKE '70%'
),
customer_lines AS (
    SELECT l.*, {{ fec_customer('l') }} AS customer
    FROM raw_sage_fec_lines AS l
    JOIN sales_entries AS s
      ON s.entity = l.entity AND s.journal_code = l.journal_code AND s.ecriture_num = l.ecriture_num
    WHERE l.compte_num LIKE '411%' AND {{ fec_customer('l') }} IS NOT NULL
),
documents AS (
    SELECT
        entity,
        piece_ref AS invoice_number,
        min(customer) AS customer_id,
        min(coalesce(piece_date, ecriture_date)) AS issue_date,
        sum(coalesce(debit, 0) - coalesce(credit, 0)) AS amount_total,
        max(nullif(ecriture_let, '')) AS erp_lettrage,
        min(journal_code || '-' || ecriture_num) AS source_id
    FROM customer_lines
    GROUP BY entity, piece_ref
)
SELECT
    d.entity,
    d.invoice_number AS invoice_id,
    d.invoice_number,
    d.customer_id,
    CASE WHEN d.amount_total < 0 THEN 'credit_note' ELSE 'invoice' END AS doc_type,
    d.issue_date,
    {{ add_days('d.issue_date', 'coalesce(c.payment_terms_days, ' ~ fec_default_terms ~ ')') }} AS due_date,
    'EUR' AS currency,
    d.amount_total,
    CAST(NULL AS DECIMAL(18,2)) AS erp_amount_open,
    FALSE AS disputed,
    d.erp_lettrage,
    'sage_fec' AS source_system,
    d.source_id
FROM documents AS d
LEFT JOIN {% if has('raw_sage_fec_customers') %}raw_sage_fec_customers{% else %}(SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS customer_account, CAST(NULL AS BIGINT) AS payment_terms_days WHERE 1 = 0){% endif %} AS c
  ON c.entity = d.entity AND c.customer_account = d.customer_id
