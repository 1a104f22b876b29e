-- Other numbers the ERP keeps for a document, which payers quote too (staging models of shape
-- invoice_aliases): SAP's document number when XBLNR holds something else, a unique assignment
-- (ZUONR: a Swiss QR reference, a structured creditor reference, the customer's order). The
-- reconciliation looks them up only for remittance tokens that named no invoice number (kind 5).
--
-- Also the payment references a Nordic payer quotes for an all-digit number: the number with a check
-- digit appended, as the invoice prints it for the bank. A Finnish reference number (viitenumero:
-- weights 7, 3, 1 from the right; inside an RF creditor reference too, whose RF part the keys strip),
-- a Norwegian KID or Swedish OCR number (Luhn), and a Swedish OCR number with its length digit before
-- the Luhn digit. Zero padding (a Finnish reference written on 20 digits) is stripped by the keys.
WITH given AS (
    SELECT entity, invoice_id, alias, source_system FROM ({{ union('invoice_aliases') }}) AS a
    WHERE alias IS NOT NULL AND alias <> ''
),
numbers AS (
    SELECT entity, invoice_id, num, source_system
    FROM (
        SELECT entity, invoice_id, trim(invoice_number) AS num, source_system FROM int_invoices
        UNION ALL
        -- (not an alias that is another document's own number: a credit note whose assignment names the
        -- invoice it credits would take that invoice's references too)
        SELECT g.entity, g.invoice_id, trim(g.alias) AS num, g.source_system FROM given AS g
        WHERE NOT EXISTS (SELECT 1 FROM int_invoices AS o
                          WHERE o.entity = g.entity AND o.invoice_id <> g.invoice_id
                            AND trim(o.invoice_number) = trim(g.alias))
    ) AS n
    WHERE length(num) BETWEEN 4 AND 19 AND ltrim(num, '0123456789') = ''
),
padded AS (
    -- d1 the last digit .. d19: read off the number padded to 19 digits (zeros add nothing to a sum)
    SELECT entity, invoice_id, num, source_system,
           {%- for k in range(1, 20) %}
           CAST(substr(lpad(num, 19, '0'), {{ 20 - k }}, 1) AS INTEGER) AS d{{ k }}{{ ',' if k < 19 }}
           {%- endfor %}
    FROM numbers
),
sums AS (
    SELECT entity, invoice_id, num, source_system,
           {% for k in range(1, 20) %}{{ ' + ' if k > 1 }}d{{ k }} * {{ (7, 3, 1)[(k - 1) % 3] }}{% endfor %} AS s731,
           -- Luhn: every other digit doubled from the right (the digits of a product summed: 2d - 9 above 9)
           {% for k in range(1, 20) %}{{ ' + ' if k > 1 }}{% if k % 2 == 1 %}(CASE WHEN d{{ k }} > 4 THEN 2 * d{{ k }} - 9 ELSE 2 * d{{ k }} END){% else %}d{{ k }}{% endif %}{% endfor %} AS s_luhn,
           -- the same with one more digit on the right (the length digit): the doubling shifts by one
           {% for k in range(1, 20) %}{{ ' + ' if k > 1 }}{% if k % 2 == 0 %}(CASE WHEN d{{ k }} > 4 THEN 2 * d{{ k }} - 9 ELSE 2 * d{{ k }} END){% else %}d{{ k }}{% endif %}{% endfor %} AS s_luhn_shifted,
           (length(num) + 2) % 10 AS len_digit
    FROM padded
),
digits AS (
    SELECT entity, invoice_id, num, source_system, len_digit,
           CAST((10 - s731 % 10) % 10 AS TEXT) AS finnish,
           CAST((10 - s_luhn % 10) % 10 AS TEXT) AS luhn,
           CAST((10 - (s_luhn_shifted + CASE WHEN len_digit > 4 THEN 2 * len_digit - 9 ELSE 2 * len_digit END) % 10) % 10
                AS TEXT) AS luhn_after_length
    FROM sums
),
check_digit_references AS (
    -- (the three read off one pass: a join with three rows, not three scans of the sums)
    SELECT d.entity, d.invoice_id, d.source_system,
           CASE k.scheme WHEN 1 THEN d.num || d.finnish
                         WHEN 2 THEN d.num || d.luhn
                         ELSE d.num || CAST(d.len_digit AS TEXT) || d.luhn_after_length END AS alias
    FROM digits AS d
    CROSS JOIN (VALUES (1), (2), (3)) AS k(scheme)
    WHERE k.scheme <> 2 OR d.luhn <> d.finnish
)
SELECT entity, invoice_id, alias, source_system FROM given
UNION ALL
-- (a number with a check digit is never the number itself; one the ERP also keeps is listed once)
SELECT c.entity, c.invoice_id, c.alias, c.source_system FROM check_digit_references AS c
WHERE NOT EXISTS (SELECT 1 FROM given AS g
                  WHERE g.entity = c.entity AND g.invoice_id = c.invoice_id AND g.alias = c.alias)
