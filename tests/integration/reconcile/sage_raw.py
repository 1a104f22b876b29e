"""Sage Accounting's raw tables as its connector loads them (the columns the staging models read), and one
contact, for books written row by row in SQL."""

from __future__ import annotations

TABLES = {
    "contacts": "CREATE TABLE raw_sage_accounting_contacts (id TEXT, entity TEXT, name TEXT, reference TEXT, "
                "email TEXT, tax_number TEXT, credit_limit DECIMAL(18,2), credit_days BIGINT, currency__id TEXT, "
                "main_address__country__id TEXT, bank_account_details__iban TEXT)",
    "sales_invoices": "CREATE TABLE raw_sage_accounting_sales_invoices (id TEXT, entity TEXT, invoice_number TEXT, "
                      "contact__id TEXT, date DATE, due_date DATE, total_amount DECIMAL(18,2), "
                      "outstanding_amount DECIMAL(18,2), currency__id TEXT, status__id TEXT)",
    "sales_credit_notes": "CREATE TABLE raw_sage_accounting_sales_credit_notes (id TEXT, entity TEXT, "
                          "credit_note_number TEXT, contact__id TEXT, date DATE, original_invoice_number TEXT, "
                          "total_amount DECIMAL(18,2), outstanding_amount DECIMAL(18,2), currency__id TEXT, "
                          "status__id TEXT)",
    "contact_payments": "CREATE TABLE raw_sage_accounting_contact_payments (id TEXT, entity TEXT, contact__id TEXT, "
                        "date DATE, total_amount DECIMAL(18,2), currency__id TEXT, reference TEXT, "
                        "transaction_type__id TEXT)",
    "payment_allocations": "CREATE TABLE raw_sage_accounting_payment_allocations (payment_id TEXT, artefact_id TEXT, "
                           "entity TEXT, amount DECIMAL(18,2))",
    "contact_allocations": "CREATE TABLE raw_sage_accounting_contact_allocations (id TEXT, entity TEXT, date DATE, "
                           "contact__id TEXT, transaction_type__id TEXT, allocated_artefacts_json TEXT, "
                           "created_at TEXT, updated_at TEXT)",
    "contact_allocation_lines": "CREATE TABLE raw_sage_accounting_contact_allocation_lines (allocation_id TEXT, "
                                "artefact_id TEXT, entity TEXT, artefact_kind TEXT, artefact_number TEXT, "
                                "amount DECIMAL(18,2), contact_id TEXT, date DATE)",
}
# UK01's one customer, paying in GBP at 30 days
JUNIPER = ("INSERT INTO raw_sage_accounting_contacts (id, entity, name, reference, credit_days, currency__id) VALUES "
           "('c1', 'UK01', 'Juniper Events Ltd', 'JUN001', 30, 'GBP')")
