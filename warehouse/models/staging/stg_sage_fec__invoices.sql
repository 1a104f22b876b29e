-- Invoices and credit notes of a FEC: the customer-account lines (411…; the customer is
-- CompAuxNum, or an individual account itself: see _fec.jinja) of
--   * sales entries, those that also post revenue (70…): one document per journal and PieceRef (Cegid
--     and EBP number pieces per journal: sales VT 001002 and credit notes AV 001002 are two documents).
--     Its id is the PieceRef; where several journals use one PieceRef, the document of a sales journal
--     (conventions.yaml), else the first booked, keeps it and the others are <journal>/<PieceRef>, so
--     an id does not move when a later entry reuses its PieceRef;
--   * opening-balance (à-nouveaux) entries, in an opening journal of mappings/sage_fec/conventions.yaml
--     (AN, RAN …): the previous year's open invoices and credits carried forward, one document per
--     customer and PieceRef. Only the book's first opening counts, and only when no entry precedes
--     it: a later year's à-nouveaux carry forward what the earlier year's lines, loaded too, already
--     hold.
-- The printed number is the PieceRef, or the number in the label when the PieceRef is the package's
-- piece number (fec_number_in_label in _fec.jinja).
-- Debit is an invoice, credit a credit note (negative). A document booked in another currency (Montantdevise,
-- Idevise on its customer lines: an export invoice in USD) is owed in that currency (_fec.jinja fec_doc_amount).
-- Write-offs (conventions.yaml write_off_account_prefixes): an entry that is no sale, receipt or opening, crediting
-- a customer against a charge (658 a small difference of settlement, 654 a bad debt) and lettered with the invoice,
-- is a credit the ERP set against that invoice, one document per customer and code of the entry ('WO/<entry>-<line>',
-- a credit note in fct_invoice): the code then balances as it does in the ERP (received + written off = billed), and
-- the invoice closes instead of staying owed (and reminded) for what the accountant wrote off.
-- FEC has no due date: it is the issue date (PieceDate, else the entry date) plus the customer's terms from
-- the customers export ("45J FDM": end of month), else the entity default from mappings (_fec.jinja
-- fec_due_date).
-- shape: invoices
-- requires: raw_sage_fec_lines
WITH lines AS (
    SELECT * FROM {{ fec_lines(with_lettrage=True) }} AS f
),
sales_entries AS (
    SELECT DISTINCT l.entity, l.fiscal_year, l.journal_code, l.ecriture_num
    FROM lines AS l
    WHERE l.compte_num LIKE '70%' AND NOT {{ fec_is_opening('l') }}
),
customer_lines AS (
    SELECT l.*, {{ fec_customer('l') }} AS customer, {{ fec_number_in_label('l') }} AS number_in_label
    FROM lines AS l
    JOIN sales_entries AS s ON {{ fec_same_entry('s', 'l') }}
    WHERE l.compte_num LIKE '411%' AND {{ fec_customer('l') }} IS NOT NULL
),
sales_pieces AS (
    SELECT
        entity,
        journal_code,
        piece_ref,
        coalesce(min(number_in_label), piece_ref) AS invoice_number,
        min(customer) AS customer_id,
        min(coalesce(piece_date, ecriture_date)) AS issue_date,
        min(ecriture_date) AS booked_on,
        {{ fec_group_currency('c') }} AS currency,
        {{ fec_group_amount('c') }} AS amount_total,
        max(lettrage) AS erp_lettrage,
        min(nullif(trim(ecriture_lib), '')) AS description,
        min({{ fec_entry_id('c') }}) AS source_id
    FROM customer_lines AS c
    GROUP BY entity, journal_code, piece_ref
),
sales_documents AS (
    SELECT
        entity,
        CASE WHEN row_number() OVER (
                      PARTITION BY entity, piece_ref
                      ORDER BY CASE WHEN {{ fec_is_sales_journal('journal_code') }} THEN 0 ELSE 1 END, booked_on, journal_code) = 1
             THEN piece_ref ELSE journal_code || '/' || piece_ref END AS invoice_id,
        invoice_number,
        customer_id,
        issue_date,
        currency,
        amount_total,
        erp_lettrage,
        description,
        FALSE AS write_off,
        source_id
    FROM sales_pieces
),
write_off_entries AS (
    -- entries against a write-off charge that post no sale, bank, transit or other receivable account
    SELECT l.entity, l.fiscal_year, l.journal_code, l.ecriture_num
    FROM lines AS l
    WHERE NOT {{ fec_is_opening('l') }}
    GROUP BY l.entity, l.fiscal_year, l.journal_code, l.ecriture_num
    HAVING max(CASE WHEN {{ fec_account_in('l.compte_num', fec_conventions.write_off_account_prefixes) }} THEN 1 ELSE 0 END) = 1
       AND max(CASE WHEN l.compte_num LIKE '70%' OR l.compte_num LIKE '512%'
                      OR {{ fec_account_in('l.compte_num', fec_conventions.transit_account_prefixes) }}
                      OR (l.compte_num LIKE '41%' AND NOT l.compte_num LIKE '411%') THEN 1 ELSE 0 END) = 0
),
write_off_documents AS (
    SELECT
        w.entity,
        'WO/' || min({{ fec_entry_id('w') }}) || '-' || CAST(min(w.line_in_entry) AS TEXT) AS invoice_id,
        -- (no number is printed on a write-off: its entry and the piece it names say what it is in every explanation)
        'write-off ' || min({{ fec_entry_id('w') }}) || coalesce(' ' || min(nullif(w.piece_ref, '')), '') AS invoice_number,
        {{ fec_customer('w') }} AS customer_id,
        min(coalesce(w.piece_date, w.ecriture_date)) AS issue_date,
        {{ fec_group_currency('w') }} AS currency,
        {{ fec_group_amount('w') }} AS amount_total,
        w.lettrage AS erp_lettrage,
        min(nullif(trim(w.ecriture_lib), '')) AS description,
        TRUE AS write_off,
        min({{ fec_entry_id('w') }}) AS source_id
    FROM lines AS w
    JOIN write_off_entries AS e ON {{ fec_same_entry('e', 'w') }}
    WHERE w.compte_num LIKE '411%' AND {{ fec_customer('w') }} IS NOT NULL AND w.lettrage IS NOT NULL
    GROUP BY w.entity, w.fiscal_year, w.journal_code, w.ecriture_num, {{ fec_customer('w') }}, w.lettrage
    -- (a debit, an excess written off to income, is no debt of the customer's: left out)
    HAVING {{ fec_group_amount('w') }} < 0
),
earliest_opening AS (
    SELECT l.entity, min(l.ecriture_date) AS opened_on
    FROM lines AS l
    WHERE {{ fec_is_opening('l') }}
    GROUP BY l.entity
),
first_opening AS (
    -- carried forward only when the book holds nothing before it: with the previous year's entries
    -- loaded (a 2025 FEC without à-nouveaux, then the 2026 one that opens with them), its open items
    -- are already documents of that year, and its receipts already lines
    SELECT o.entity, o.opened_on
    FROM earliest_opening AS o
    WHERE NOT EXISTS (SELECT 1 FROM lines AS e
                      WHERE e.entity = o.entity AND e.ecriture_date < o.opened_on AND NOT {{ fec_is_opening('e') }})
),
opening_lines AS (
    SELECT
        l.*,
        {{ fec_customer('l') }} AS customer,
        {{ fec_number_in_label('l') }} AS number_in_label,
        -- a line without PieceRef is a document of its own, named by its place in the entry
        coalesce(nullif(l.piece_ref, ''), {{ fec_entry_id('l') }} || '-' || CAST(l.line_in_entry AS TEXT)) AS doc_ref
    FROM lines AS l
    JOIN first_opening AS f ON f.entity = l.entity AND f.opened_on = l.ecriture_date
    WHERE {{ fec_is_opening('l') }} AND l.compte_num LIKE '411%' AND {{ fec_customer('l') }} IS NOT NULL
),
opening_documents AS (
    SELECT
        entity,
        -- its own namespace: the PieceRef of a carried-forward invoice may also be a sales entry's
        -- (a credit note booked on the invoice's number) or another customer's (one line per
        -- customer under the entry's own reference)
        'AN/' || customer || '/' || doc_ref AS invoice_id,
        coalesce(min(number_in_label), min(nullif(piece_ref, ''))) AS invoice_number,
        customer AS customer_id,
        min(coalesce(piece_date, ecriture_date)) AS issue_date,
        {{ fec_group_currency('o') }} AS currency,
        {{ fec_group_amount('o') }} AS amount_total,
        max(lettrage) AS erp_lettrage,
        min(nullif(trim(ecriture_lib), '')) AS description,
        FALSE AS write_off,
        min({{ fec_entry_id('o') }}) AS source_id
    FROM opening_lines AS o
    GROUP BY entity, customer, doc_ref
    -- an invoice and its part payment carried forward under one PieceRef net; at nil nothing is open
    HAVING {{ fec_group_amount('o') }} <> 0
),
documents AS (
    SELECT * FROM sales_documents
    UNION ALL
    SELECT * FROM opening_documents
    UNION ALL
    SELECT * FROM write_off_documents
)
SELECT
    d.entity,
    d.invoice_id,
    d.invoice_number,
    d.customer_id,
    CASE WHEN d.amount_total < 0 THEN 'credit_note' ELSE 'invoice' END AS doc_type,
    d.issue_date,
    {{ fec_due_date('d.issue_date', 'c', 'd.entity') }} AS due_date,
    d.currency,
    d.amount_total,
    CAST(NULL AS DECIMAL(18,2)) AS erp_amount_open,
    FALSE AS disputed,
    d.erp_lettrage,
    d.description,
    d.write_off,
    'sage_fec' AS source_system,
    d.source_id
FROM documents AS d
LEFT JOIN {% if has('raw_sage_fec_customers') %}raw_sage_fec_customers{% else %}(SELECT CAST(NULL AS TEXT) AS entity, CAST(NULL AS TEXT) AS customer_account, CAST(NULL AS BIGINT) AS payment_terms_days, CAST(NULL AS TEXT) AS payment_terms WHERE 1 = 0){% endif %} AS c
  ON c.entity = d.entity AND c.customer_account = d.customer_id
