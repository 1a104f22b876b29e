-- Bills of exchange customers accepted and cheques received, by every ERP that keeps them (a FEC's LCR on
-- 413, cheques on 5112: stg_sage_fec__bills), one row per customer line: money on its way to the invoice its
-- label names until the bank credits it, for the actions that must not ask for it again
-- (actions/in_transit.py), which read only the core layer; and what a return unpaid sends back
-- (int_erp_receipts).
SELECT entity, bill_id, customer_id, amount, currency, accepted_on, reference, source_system, source_id, kind
FROM ({{ union('bills') }}) AS b
