"""A FEC past its first year: the opening-balance (à-nouveaux) entry carries the customers' open
invoices forward. Staging, core and reconciliation on DuckDB and Postgres."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import dlt

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, load_raw_book

AS_OF = date(2025, 3, 1)
OPENED = date(2025, 1, 1)


def _carried(entry: str, line: int, compte: str, aux: str, piece: str, piece_date: date,
             debit: str, credit: str, let: str = "", journal: str = "AN", on: date = OPENED) -> dict[str, Any]:
    """A line of an opening entry: dated the first day of the year, PieceDate the document's own."""
    return {**_fec(entry, journal, line, compte, aux, piece, on, debit, credit, let), "piece_date": piece_date}


# The à-nouveaux of 2025: ACME's invoice and credit note of 2024 one line each, Beta and Gamma one
# balance line each under the entry's own reference, the bank balance, 890000 as the counterpart.
OPENING = [
    _carried("A1", 1, "411000", "C001", "FA2024-0870", date(2024, 12, 15), "500.00", "0.00", "AB"),
    _carried("A1", 2, "411000", "C001", "AV2024-0031", date(2024, 12, 20), "0.00", "40.00"),
    _carried("A1", 3, "411000", "C002", "AN2025", OPENED, "300.00", "0.00"),
    _carried("A1", 4, "411000", "C003", "AN2025", OPENED, "200.00", "0.00"),
    _carried("A1", 5, "512000", "", "AN2025", OPENED, "5000.00", "0.00"),
    _carried("A1", 6, "890000", "", "AN2025", OPENED, "0.00", "5960.00"),
]
# The next year's à-nouveaux, loaded too (two FECs in one warehouse): what 2025's lines already hold.
NEXT_OPENING = [
    _carried("A2", 1, "411000", "C001", "FA2024-0870", date(2024, 12, 15), "400.00", "0.00", on=date(2026, 1, 1)),
    _carried("A2", 2, "890000", "", "AN2026", date(2026, 1, 1), "0.00", "400.00", on=date(2026, 1, 1)),
]
# ACME pays FA2024-0870 on 20 February; the accountant letters the receipt with the carried-forward line.
RECEIPT = [
    _fec("5", "BQ", 1, "512000", "", "VIR", date(2025, 2, 20), "500.00", "0.00"),
    _fec("5", "BQ", 2, "411000", "C001", "VIR", date(2025, 2, 20), "0.00", "500.00", "AB"),
]
BANK_RECEIPT = {**BANK[0], "bank_line_id": "B3", "booking_date": date(2025, 2, 20), "value_date": date(2025, 2, 20),
                "amount": Decimal("500.00"), "remittance_unstructured": "VIR ACME FA2024-0870"}


@contextmanager
def _built_with(config: WarehouseConfig, fec_lines: Sequence[dict[str, Any]],
                bank_lines: Sequence[dict[str, Any]] = ()) -> Iterator[Engine]:
    """The tiny book, then ``fec_lines`` and ``bank_lines`` appended to its raw tables, then built."""
    load_raw_book(config)
    more = [dlt.resource(list(fec_lines), name="raw_sage_fec_lines", write_disposition="append")]
    if bank_lines:
        more.append(dlt.resource(list(bank_lines), name="raw_camt053_entries", write_disposition="append"))
    run_pipeline("test_raw_book", more, config)
    with connect(config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        yield engine


def test_opening_entry_lines_are_invoices_and_credit_notes(warehouse_config: WarehouseConfig) -> None:
    # a credit note of 100.00 on the carried-forward invoice, booked under the invoice's own number
    credit_note = [_fec("4", "VE", 1, "411000", "C001", "FA2024-0870", date(2025, 1, 15), "0.00", "100.00"),
                   _fec("4", "VE", 2, "706000", "", "FA2024-0870", date(2025, 1, 15), "100.00", "0.00")]
    with _built_with(warehouse_config, OPENING + NEXT_OPENING + credit_note + RECEIPT) as engine:
        invoices = engine.query_dicts(
            "SELECT invoice_id, invoice_number, customer_id, doc_type, issue_date, due_date, amount_total, "
            "erp_lettrage, source_id FROM int_invoices ORDER BY invoice_id")
        ids = engine.query("SELECT count(*), count(DISTINCT invoice_id) FROM int_invoices")[0]
        erp = engine.query("SELECT source_id, amount FROM fct_payment WHERE channel = 'erp' ORDER BY source_id")

    rows = [(i["invoice_id"], i["invoice_number"], i["customer_id"], i["doc_type"], i["amount_total"])
            for i in invoices]
    assert rows == [
        ("AN/C001/AV2024-0031", "AV2024-0031", "C001", "credit_note", Decimal("-40.00")),
        ("AN/C001/FA2024-0870", "FA2024-0870", "C001", "invoice", Decimal("500.00")),  # 2026's 400.00 not again
        ("AN/C002/AN2025", "AN2025", "C002", "invoice", Decimal("300.00")),
        ("AN/C003/AN2025", "AN2025", "C003", "invoice", Decimal("200.00")),
        ("AV-2025-000001", "AV-2025-000001", "C001", "credit_note", Decimal("-120.00")),
        ("FA-2025-000001", "FA-2025-000001", "C001", "invoice", Decimal("1200.00")),
        ("FA2024-0870", "FA2024-0870", "C001", "credit_note", Decimal("-100.00")),
    ]
    assert ids[0] == ids[1]
    carried = {i["invoice_id"]: i for i in invoices}
    acme, beta = carried["AN/C001/FA2024-0870"], carried["AN/C002/AN2025"]
    assert (acme["issue_date"], acme["due_date"]) == (date(2024, 12, 15), date(2025, 1, 14))  # PieceDate + 30 days
    assert (beta["issue_date"], beta["due_date"]) == (OPENED, date(2025, 1, 31))  # entry date + default terms
    assert acme["erp_lettrage"] == "AB" and acme["source_id"] == "AN-A1"
    # the opening entry posts 512 too, but only the bank journal's receipts are ERP payments
    assert erp == [("BQ-3", Decimal("1080.00")), ("BQ-5", Decimal("500.00"))]


def test_a_bank_payment_naming_a_carried_forward_invoice_pays_it(warehouse_config: WarehouseConfig) -> None:
    with _built_with(warehouse_config, OPENING + RECEIPT, [BANK_RECEIPT]) as engine:
        reconcile(engine, as_of=AS_OF, entity="FR01")
        matches = engine.query("SELECT invoice_id, amount_applied, state FROM fct_match WHERE payment_id = 'B3'")
        invoice = engine.query("SELECT status, amount_open FROM fct_invoice WHERE invoice_id = 'AN/C001/FA2024-0870'")
    assert matches == [("AN/C001/FA2024-0870", Decimal("500.00"), "auto")]
    assert invoice == [("paid", Decimal("0.00"))]


def test_an_opening_is_not_carried_forward_when_the_previous_year_is_loaded(warehouse_config: WarehouseConfig) -> None:
    """The 2024 FEC (no à-nouveaux of its own) is loaded with 2025's: FA2024-0870 is already a document of
    2024, and the 2025 opening that carries it forward would count it twice."""
    sale_2024 = [_fec("90", "VE", 1, "411000", "C001", "FA2024-0870", date(2024, 12, 15), "500.00", "0.00"),
                 _fec("90", "VE", 2, "706000", "", "FA2024-0870", date(2024, 12, 15), "0.00", "500.00")]
    with _built_with(warehouse_config, sale_2024 + OPENING + RECEIPT) as engine:
        documents = engine.query("SELECT invoice_id, amount_total FROM int_invoices WHERE invoice_id LIKE '%2024%' "
                                 "ORDER BY invoice_id")
    assert documents == [("FA2024-0870", Decimal("500.00"))]
