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



def _usd_invoice(entry: str, piece: str, day: date, eur: str, usd: str, let: str) -> list[dict[str, Any]]:
    """A USD export invoice booked in euros: C001's 411 line and the sale, each carrying the USD (Montantdevise)."""
    return [_fec(entry, "VE", 1, "411000", "C001", piece, day, eur, "0.00", let, devise=(usd, "USD")),
            _fec(entry, "VE", 2, "706000", "", piece, day, "0.00", eur, devise=(usd, "USD"))]


FX_LINES = [
    # FA-2025-000100: USD 1,000.00 booked 920.00 EUR; AV-2025-000100 gives back USD 100.00 (92.00 EUR)
    *_usd_invoice("10", "FA-2025-000100", date(2025, 1, 15), "920.00", "1000.00", "AB"),
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


CONVERTED_LINES = [
    # FA-2025-000200: USD 5,000.00 booked 4,600.00 EUR; FA-2025-000201: USD 2,000.00 booked 1,840.00 EUR
    *_usd_invoice("20", "FA-2025-000200", date(2025, 1, 15), "4600.00", "5000.00", "CV"),
    *_usd_invoice("21", "FA-2025-000201", date(2025, 1, 16), "1840.00", "2000.00", "CW"),
    # the customer bought euros itself and sent 4,550.00 EUR (nothing instructed): the accountant booked the bank's
    # euros, the USD 5,000.00 on the customer's account and the loss on 666, and lettered the invoice
    _fec("22", "BQ", 1, "512000", "", "VIR", date(2025, 2, 12), "4550.00", "0.00"),
    _fec("22", "BQ", 2, "411000", "C001", "VIR", date(2025, 2, 12), "0.00", "4600.00", "CV",
         devise=("5000.00", "USD")),
    _fec("22", "BQ", 3, "666000", "", "VIR", date(2025, 2, 12), "50.00", "0.00"),
    # 1,861.00 EUR for the other, its transfer naming nothing; the gain on 766
    _fec("23", "BQ", 1, "512000", "", "VIR", date(2025, 2, 14), "1861.00", "0.00"),
    _fec("23", "BQ", 2, "411000", "C001", "VIR", date(2025, 2, 14), "0.00", "1840.00", "CW",
         devise=("2000.00", "USD")),
    _fec("23", "BQ", 3, "766000", "", "VIR", date(2025, 2, 14), "0.00", "21.00"),
]


def test_a_credit_the_customer_converted_is_paid_as_the_erp_booked_it(warehouse_config: WarehouseConfig) -> None:
    """A USD invoice paid in euros the customer bought itself (nothing instructed on the statement): the FEC books the
    bank's euros on 512 and the USD on the customer's account, lettered with the invoice. That is the credit's
    amount in the invoice's currency; it stayed an unmatched 4,550.00 EUR beside a USD invoice the ERP shows paid
    (an erp_disagreement), found by an independent multi-currency book."""
    credits = (
        {**_credit("CV-1", "4550.00", "EUR", "FA-2025-000200", BANK[0]["account_iban"]),
         "booking_date": date(2025, 2, 11), "value_date": date(2025, 2, 11)},
        {**_credit("CV-2", "1861.00", "EUR", "VIREMENT GLOBEX", BANK[0]["account_iban"]),
         "booking_date": date(2025, 2, 13), "value_date": date(2025, 2, 13)},
    )
    load_raw_book(warehouse_config, more_fec_lines=CONVERTED_LINES, more_bank_lines=credits)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        payments = {r[0]: (r[1], r[2]) for r in engine.query(
            "SELECT payment_id, amount, currency FROM fct_payment WHERE payment_id LIKE 'CV-%'")}
        banked = dict(engine.query("SELECT bank_line_id, amount || ' ' || currency FROM fct_bank_line "
                                   "WHERE bank_line_id LIKE 'CV-%'"))
        invoices = dict(engine.query("SELECT invoice_id, amount_open || ' ' || status FROM fct_invoice "
                                     "WHERE invoice_id LIKE 'FA-2025-0002%'"))
        matches = engine.query("SELECT payment_id, invoice_id, amount_applied, currency, rule FROM fct_match "
                               "WHERE payment_id LIKE 'CV-%' AND state = 'auto' ORDER BY payment_id")
        exceptions = engine.query("SELECT kind, payment_id, invoice_id FROM fct_reconciliation_exception "
                                  "WHERE resolved_at IS NULL AND (payment_id LIKE 'CV-%' "
                                  "OR invoice_id LIKE 'FA-2025-0002%')")
    assert payments == {"CV-1": (Decimal("5000.00"), "USD"), "CV-2": (Decimal("2000.00"), "USD")}
    assert banked == {"CV-1": "4550.00 EUR", "CV-2": "1861.00 EUR"}  # (the statement as the bank wrote it)
    assert invoices == {"FA-2025-000200": "0.00 paid", "FA-2025-000201": "0.00 paid"}
    assert [(m[0], m[1], m[2], m[3]) for m in matches] == [
        ("CV-1", "FA-2025-000200", Decimal("5000.00"), "USD"), ("CV-2", "FA-2025-000201", Decimal("2000.00"), "USD")]
    assert matches[1][4] == "erp_receipt"
    assert exceptions == []
