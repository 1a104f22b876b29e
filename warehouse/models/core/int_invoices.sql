-- Every invoice and credit note of every ERP, one row each, before reconciliation.
{{ union('invoices') }}
