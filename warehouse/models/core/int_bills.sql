-- Bills of exchange customers accepted and not yet collected by every ERP that keeps them (a FEC's LCR
-- on 413: stg_sage_fec__bills), one row per customer line: money on its way to the invoice its label names,
-- for the actions that must not ask for it again (actions/in_transit.py), which read only the core layer.
SELECT entity, bill_id, customer_id, amount, currency, accepted_on, reference, source_system, source_id
FROM ({{ union('bills') }}) AS b
