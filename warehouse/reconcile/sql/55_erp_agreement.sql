-- The ERP's own lettrage as evidence. A payment whose invoices the ERP lettered under one
-- code, settled by the ERP's own receipt(s) of what this payment settles (int_erp_settlements),
-- agrees with the ERP: confidence rises. A code alone is no evidence: every lettered invoice has
-- one, whoever paid it (a wrong match to an invoice the ERP settled with another receipt would
-- "agree"). Invoices of one payment lettered under different codes disagree: a person looks.
DROP TABLE IF EXISTS rc_erp;
CREATE TEMP TABLE rc_erp AS
SELECT m.entity, m.payment_id, count(DISTINCT i.erp_lettrage) AS n_codes,
       min(i.erp_lettrage) AS code_min, max(i.erp_lettrage) AS code_max,
       sum(CASE WHEN i.erp_lettrage IS NULL THEN 1 ELSE 0 END) AS n_unlettered,
       count(DISTINCT CASE WHEN i.erp_lettrage IS NOT NULL THEN m.invoice_id END) AS n_lettered,
       sum(m.amount_applied + coalesce(m.adjustment, 0)) AS settled
FROM rc_match AS m JOIN rc_inv AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
-- (the ERP's own lettrage made erp_lettrage and erp_receipt matches: nothing to compare them with)
WHERE m.state IN ('auto', 'suggested') AND m.rule NOT IN ('credit_note', 'erp_lettrage', 'erp_receipt', 'credit_note_refund')
  -- only payments touching at least one lettered invoice can agree or disagree
  AND m.payment_id IN (SELECT l.payment_id FROM rc_match AS l
                       JOIN rc_inv AS li ON li.entity = l.entity AND li.invoice_id = l.invoice_id
                       WHERE li.erp_lettrage IS NOT NULL)
GROUP BY m.entity, m.payment_id;

UPDATE rc_match SET
    confidence = CASE WHEN rc_match.confidence < {{ erp.agreement_confidence }} THEN {{ erp.agreement_confidence }}
                      ELSE rc_match.confidence END,
    {% if erp.confirm_on_agreement %}state = CASE WHEN rc_match.state = 'auto' THEN 'confirmed' ELSE rc_match.state END,{% endif %}
    explanation = rc_match.explanation || ' ; agrees with ERP lettrage ' || e.code_min
FROM rc_erp AS e
WHERE e.entity = rc_match.entity AND e.payment_id = rc_match.payment_id AND rc_match.state = 'auto'
  AND e.n_codes = 1 AND e.n_unlettered = 0
  AND EXISTS (SELECT 1 FROM int_erp_settlements AS s
              WHERE s.entity = e.entity AND s.erp_lettrage = e.code_min AND abs(s.received - e.settled) <= 0.01);

-- An ERP whose invoices list the receipts and credit notes that settle them (NetSuite, SAP Business One, Sage
-- Accounting: "7040" and "7040,9033" for two invoices one payment settled, the second with a credit memo too)
-- agrees when one receipt is listed on every invoice the payment pays: the codes differ, the receipt is the same.
-- A FEC's or SAP's code is one value (its own list of one): two codes still disagree.
DROP TABLE IF EXISTS rc_erp_listed;
CREATE TEMP TABLE rc_erp_listed AS
SELECT payment_id, listed_id, count(DISTINCT invoice_id) AS n_inv FROM (
    SELECT m.payment_id, m.invoice_id,
           trim({{ split_list('i.erp_lettrage') }}) AS listed_id
    FROM rc_match AS m JOIN rc_inv AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
    WHERE m.state IN ('auto', 'suggested') AND m.rule NOT IN ('credit_note', 'erp_lettrage', 'erp_receipt', 'credit_note_refund')
      AND i.erp_lettrage IS NOT NULL
      AND m.payment_id IN (SELECT payment_id FROM rc_erp WHERE n_codes > 1)
) AS l GROUP BY payment_id, listed_id;

INSERT INTO rc_exc (entity, kind, payment_id, invoice_id, payout_id, bank_line_id, amount, currency, detail)
SELECT e.entity, 'erp_disagreement', e.payment_id, NULL, NULL, NULL, NULL, NULL,
       'Lettrage applies this payment to invoices the ERP settled under different lettrage codes ('
       || e.code_min || ' ... ' || e.code_max || ')'
FROM rc_erp AS e WHERE e.n_codes > 1
  AND NOT EXISTS (SELECT 1 FROM rc_erp_listed AS x WHERE x.payment_id = e.payment_id AND x.listed_id <> ''
                  AND x.n_inv = e.n_lettered);
