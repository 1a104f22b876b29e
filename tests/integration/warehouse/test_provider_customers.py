"""Provider customers created without the ERP's customer id, on DuckDB and Postgres.

Many GoCardless and Stripe accounts were set up by hand or through hosted pages: their customers carry a company
name and an email, no ERP id in metadata. Acme (C001) signed mandate MD1 from the address the customer master
holds: its collections are Acme's (fct_payment.customer_id by email), and so is the mandate (int_mandates, through
its payments). Beta (C002) signed MD2 from an address nobody has on file: the mandate is still Beta's for
reminders once the reconciliation applied one of its collections to a Beta invoice. Both are direct-debit payers:
no reminder email, a collection through the mandate instead.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import dlt

from actions.dunning.select import direct_debit_payers, invoice_facts
from lettrage.config import WarehouseConfig
from mappings.dunning import load_dunning_rules
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile

from .raw_book import _fec, load_raw_book

AS_OF = date(2025, 3, 20)


def _invoice(entry: str, aux: str, number: str, issued: date, total: str) -> list[dict[str, Any]]:
    net = (Decimal(total) / Decimal("1.2")).quantize(Decimal("0.01"))
    return [_fec(entry, "VE", 1, "411000", aux, number, issued, total, "0.00"),
            _fec(entry, "VE", 2, "706000", "", number, issued, "0.00", str(net)),
            _fec(entry, "VE", 3, "445710", "", number, issued, "0.00", str(Decimal(total) - net))]


MORE_FEC = (_invoice("10", "C001", "FA-2025-000003", date(2025, 1, 20), "1500.00")
            + _invoice("11", "C001", "FA-2025-000006", date(2025, 1, 25), "600.00")
            + _invoice("12", "C002", "FA-2025-000004", date(2025, 1, 20), "900.00")
            + _invoice("13", "C002", "FA-2025-000005", date(2025, 1, 25), "300.00"))

GC_CUSTOMERS = [
    # no metadata at all: a company name and the address it signed from
    {"id": "CU1", "entity": "FR01", "email": " compta@ACME.example", "company_name": "Acme", "given_name": "Jean",
     "family_name": "Martin", "created_at": "2025-01-02T10:00:00.000Z"},
    {"id": "CU2", "entity": "FR01", "email": "ap@beta-group.example", "company_name": "Beta Group", "given_name": "Ana",
     "family_name": "Lopez", "created_at": "2025-01-02T10:00:00.000Z"},
]
GC_MANDATES = [
    {"id": "MD1", "entity": "FR01", "reference": "ACME-001", "scheme": "sepa_core", "status": "active",
     "created_at": "2025-01-02T10:05:00.000Z", "links__customer": "CU1", "links__customer_bank_account": "BA1"},
    {"id": "MD2", "entity": "FR01", "reference": "BETA-001", "scheme": "sepa_core", "status": "active",
     "created_at": "2025-01-02T10:05:00.000Z", "links__customer": "CU2", "links__customer_bank_account": "BA2"},
]
GC_PAYMENTS = [
    # Acme's collection names nothing useful; Beta's names its invoice
    {"id": "PM1", "entity": "FR01", "amount": 150000, "currency": "EUR", "charge_date": "2025-02-20",
     "status": "confirmed", "reference": "ACME-JAN", "description": "Monthly collection",
     "created_at": "2025-02-15T09:00:00.000Z", "links__mandate": "MD1", "links__payout": None},
    {"id": "PM2", "entity": "FR01", "amount": 90000, "currency": "EUR", "charge_date": "2025-02-20",
     "status": "confirmed", "reference": "FA-2025-000004", "description": None,
     "created_at": "2025-02-15T09:00:00.000Z", "links__mandate": "MD2", "links__payout": None},
]


def _load(config: WarehouseConfig) -> None:
    load_raw_book(config, more_fec_lines=MORE_FEC)
    run_pipeline("test_gc_no_metadata", [
        dlt.resource(GC_CUSTOMERS, name="raw_gocardless_customers", write_disposition="replace"),
        dlt.resource(GC_MANDATES, name="raw_gocardless_mandates", write_disposition="replace"),
        dlt.resource(GC_PAYMENTS, name="raw_gocardless_payments", write_disposition="replace",
                     columns={"links__payout": {"data_type": "text"}, "description": {"data_type": "text"}}),
    ], config)


def test_provider_customers_without_erp_ids_are_found_and_collected(warehouse_config: WarehouseConfig) -> None:
    _load(warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        payments = {r["payment_id"]: (r["customer_id"], r["mandate_id"]) for r in engine.query_dicts(
            "SELECT payment_id, customer_id, mandate_id FROM fct_payment WHERE channel = 'gocardless'")}
        mandates = {r["mandate_id"]: (r["customer_id"], r["customer_via"]) for r in engine.query_dicts(
            "SELECT mandate_id, customer_id, customer_via FROM int_mandates")}
        matched = {(r["payment_id"], r["invoice_id"]) for r in engine.query_dicts(
            "SELECT payment_id, invoice_id FROM fct_match WHERE state = 'auto' AND payment_id IN ('PM1', 'PM2')")}
        debit_payers = direct_debit_payers(engine, "FR01", AS_OF, 90)
        facts = {f.invoice_number: f for f in invoice_facts(engine, "FR01", AS_OF, load_dunning_rules())}

    # Acme's address is in its master (in another case, with a space): its payment is Acme's, and so its mandate
    assert payments == {"PM1": ("C001", "MD1"), "PM2": (None, "MD2")}
    assert mandates == {"MD1": ("C001", "payments"), "MD2": (None, None)}
    # known customer + exact amount for Acme; Beta's collection by the invoice it names
    assert {p for p, _ in matched} == {"PM1", "PM2"}
    assert debit_payers == {"C001": date(2025, 2, 20), "C002": date(2025, 2, 20)}
    # each open invoice is collected through its customer's mandate, not chased by email
    assert (facts["FA-2025-000006"].mandate_id, facts["FA-2025-000005"].mandate_id) == ("MD1", "MD2")
