-- Incremental runs only: the open items the residue searches join the (partial) book of this
-- run. residue._load_items has put in rc_need_* the customers it can reach, the invoices it
-- names and, for unknown payers, the amounts it can take. An invoice outside rc_inv was
-- touched by nothing in this run (10_inputs), so its open amount is the one fct_invoice holds
-- from the last run: that finds, without computing the whole book, the items of an amount.
{% if incremental %}
DELETE FROM rc_inv_need;
INSERT INTO rc_inv_need (invoice_id)
-- (one plain semi-join per kind of need, rather than IN subqueries joined by OR)
SELECT i.invoice_id FROM {{ invoices_table }} AS i
WHERE i.entity = :entity AND i.customer_id IN (SELECT customer_id FROM rc_need_cust)
UNION
SELECT invoice_id FROM rc_need_inv
UNION
SELECT f.invoice_id FROM fct_invoice AS f
WHERE f.entity = :entity AND f.amount_open IN (SELECT amount FROM rc_need_amt);

DELETE FROM rc_inv_need WHERE invoice_id IN (SELECT invoice_id FROM rc_inv);

INSERT INTO rc_inv
{{ invoice_rows("SELECT invoice_id FROM rc_inv_need") }};
{% endif %}
