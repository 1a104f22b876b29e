"""A FEC's export invoices in another currency, on DuckDB and Postgres.

A French exporter books a USD invoice in euros at the day's rate (Debit, Credit) and keeps the USD on
the line (Montantdevise, Idevise). The customer owes USD and pays USD: into a USD account, or into a
EUR account whose bank converts it (camt ``InstdAmt``). Read in euros, every such payment was a short
or an over payment by the exchange difference the accountant books apart (666/766); read in the
document currency, it settles its invoice to the cent.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import dlt

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile

from .raw_book import BANK, FEC_CUSTOMERS, _fec, load_raw_book

AS_OF = date(2025, 3, 1)
USD_ACCOUNT = "FR7630004000010009999999901"

FX_LINES = [
    # FA-2025-000100: USD 1,000.00 booked 920.00 EUR; AV-2025-000100 gives back USD 100.00 (92.00 EUR)
    _fec("10", "VE", 1, "411000", "C001", "FA-2025-000100", date(2025, 1, 15), "920.00", "0.00", "AB",
         devise=("1000.00", "USD")),
    _fec("10", "VE", 2, "706000", "", "FA-2025-000100", date(2025, 1, 15), "0.00", "920.00",
         devise=("1000.00", "USD")),
    _fec("11", "VE", 1, "411000", "C001", "AV-2025-000100", date(2025, 1, 20), "0.00", "92.00", "AB",
         devise=("100.00", "USD")),
    _fec("11", "VE", 2, "706000", "", "AV-2025-000100", date(2025, 1, 20), "92.00", "0.00",
         devise=("100.00", "USD")),
    # paid USD 900.00 into the USD account (830.00 EUR that day): the gain on 766
    _fec("12", "BQ2", 1, "512200", "", "VIR", date(2025, 2, 10), "830.00", "0.00", devise=("900.00", "USD")),
    _fec("12", "BQ2", 2, "411000", "C001", "VIR", date(2025, 2, 10), "0.00", "828.00", "AB",
         devise=("900.00", "USD")),
    _fec("12", "BQ2", 3, "766000", "", "VIR", date(2025, 2, 10), "0.00", "2.00"),
    # FA-2025-000101: GBP 1,000.00 booked 1,180.00 EUR, paid into the EUR account: 1,175.50 EUR booked,
    # the loss on 666; the accountant has not lettered it yet
    _fec("13", "VE", 1, "411000", "C001", "FA-2025-000101", date(2025, 1, 25), "1180.00", "0.00",
         devise=("1000.00", "GBP")),
    _fec("13", "VE", 2, "706000", "", "FA-2025-000101", date(2025, 1, 25), "0.00", "1180.00",
         devise=("1000.00", "GBP")),
    _fec("14", "BQ", 1, "512000", "", "VIR", date(2025, 2, 20), "1175.50", "0.00"),
    _fec("14", "BQ", 2, "411000", "C001", "VIR", date(2025, 2, 20), "0.00", "1180.00", devise=("-1000.00", "GBP")),
    _fec("14", "BQ", 3, "666000", "", "VIR", date(2025, 2, 20), "4.50", "0.00"),
]


def _credit(line_id: str, booked: str, currency: str, remittance: str, account: str,
            instructed: tuple[str, str] | None = None) -> dict[str, Any]:
    row = {**BANK[0], "bank_line_id": line_id, "amount": Decimal(booked), "currency": currency,
           "account_iban": account, "counterparty_name": "GLOBEX CORP", "counterparty_iban": "GB00GLOBEX",
           "remittance_unstructured": remittance, "booking_date": date(2025, 2, 10), "value_date": date(2025, 2, 10)}
    if instructed:
        row.update(instructed_amount=Decimal(instructed[0]), instructed_currency=instructed[1],
                   exchange_rate="0.8507", booking_date=date(2025, 2, 20), value_date=date(2025, 2, 20))
    return row


def test_an_export_invoice_is_owed_and_paid_in_its_own_currency(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_fec_lines=FX_LINES, more_bank_lines=(
        _credit("FX-USD", "900.00", "USD", "INV FA-2025-000100", USD_ACCOUNT),
        _credit("FX-GBP", "1175.50", "EUR", "FA-2025-000101", BANK[0]["account_iban"], instructed=("1000.00", "GBP")),
    ))
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        invoices = {r["invoice_id"]: r for r in engine.query_dicts(
            "SELECT invoice_id, currency, amount_total, amount_open, status FROM fct_invoice "
            "WHERE invoice_id LIKE '%-2025-0001%'")}
        matches = engine.query_dicts(
            "SELECT payment_id, invoice_id, amount_applied, coalesce(adjustment, 0) AS adjustment, currency, state "
            "FROM fct_match WHERE payment_id LIKE 'FX-%' ORDER BY payment_id, invoice_id")
        receipts = {r["payment_id"]: r for r in engine.query_dicts(
            "SELECT payment_id, currency, amount, movement_amount FROM int_erp_receipts WHERE payment_id LIKE 'FEC-BQ%'")}
        exceptions = engine.query_dicts(
            "SELECT kind, payment_id, detail FROM fct_reconciliation_exception "
            "WHERE resolved_at IS NULL AND (payment_id LIKE 'FX-%' OR invoice_id LIKE '%-2025-0001%')")
        book = engine.query_dicts("SELECT currency, sum(amount_open) AS open FROM fct_invoice "
                                  "WHERE invoice_id LIKE '%-2025-0001%' GROUP BY currency ORDER BY currency")

    assert {k: (v["currency"], v["amount_total"]) for k, v in invoices.items()} == {
        "FA-2025-000100": ("USD", Decimal("1000.00")), "AV-2025-000100": ("USD", Decimal("-100.00")),
        "FA-2025-000101": ("GBP", Decimal("1000.00"))}
    assert {k: (v["amount_open"], v["status"]) for k, v in invoices.items()} == {
        "FA-2025-000100": (Decimal("0.00"), "paid"), "AV-2025-000100": (Decimal("0.00"), "paid"),
        "FA-2025-000101": (Decimal("0.00"), "paid")}
    # the money is applied in the invoices' currency, with no exchange difference taken for a short payment
    applied = [(m["payment_id"], m["invoice_id"], m["amount_applied"], m["adjustment"], m["currency"], m["state"])
               for m in matches]
    assert ("FX-GBP", "FA-2025-000101", Decimal("1000.00"), Decimal("0.00"), "GBP", "auto") in applied
    assert sum(m["amount_applied"] for m in matches if m["payment_id"] == "FX-USD") == Decimal("900.00")
    assert all(m["currency"] == "USD" and m["adjustment"] == 0 for m in matches if m["payment_id"] == "FX-USD")
    # the ERP's receipts too: in USD with the USD account's movement; in GBP without the converted euros
    assert {(r["currency"], r["amount"], r["movement_amount"]) for r in receipts.values()} >= {
        ("USD", Decimal("900.00"), Decimal("900.00")), ("GBP", Decimal("1000.00"), None)}
    assert exceptions == []
    assert [(b["currency"], b["open"]) for b in book] == [("GBP", Decimal("0.00")), ("USD", Decimal("0.00"))]


def test_a_customers_invoicing_currency_comes_from_its_export(warehouse_config: WarehouseConfig) -> None:
    """The customer list's Devise column is the customer's currency (dim_customer.currency)."""
    load_raw_book(warehouse_config)
    customers = [{**FEC_CUSTOMERS[0], "currency": "USD"},
                 {**FEC_CUSTOMERS[0], "customer_account": "C002", "name": "Beta SARL", "iban": None, "currency": None}]
    run_pipeline("test_fx_customers", [dlt.resource(customers, name="raw_sage_fec_customers",
                                                    write_disposition="replace")], warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        currencies = dict(engine.query("SELECT customer_id, currency FROM dim_customer WHERE source_system = 'sage_fec'"))
    assert currencies == {"C001": "USD", "C002": None}
