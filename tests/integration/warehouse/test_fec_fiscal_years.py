"""Two fiscal years of a FEC in one warehouse, on DuckDB and Postgres: packages number entries anew each
year, so BQ 3 of 2025 and BQ 3 of 2026 are two receipts and VE 1 of each year two sales."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import dlt

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.load import run_pipeline

from .raw_book import _fec, load_raw_book

AS_OF = date(2026, 2, 1)
YEAR_2026 = date(2026, 12, 31)


def _of_2026(*args: Any) -> dict[str, Any]:
    return {**_fec(*args), "fiscal_year": YEAR_2026, "source_file": "123456789FEC20261231.txt"}


LINES_2026 = [
    _of_2026("1", "VE", 1, "411000", "C001", "FA-2026-000001", date(2026, 1, 5), "600.00", "0.00"),
    _of_2026("1", "VE", 2, "706000", "", "FA-2026-000001", date(2026, 1, 5), "0.00", "600.00"),
    _of_2026("3", "BQ", 1, "512000", "", "VIR", date(2026, 1, 20), "600.00", "0.00"),
    _of_2026("3", "BQ", 2, "411000", "C001", "VIR", date(2026, 1, 20), "0.00", "600.00"),
]


@contextmanager
def _built_with(config: WarehouseConfig, lines: list[dict[str, Any]]) -> Iterator[Engine]:
    """The tiny book (fiscal 2025, loaded as an older connector did: no fiscal_year column), ``lines``
    appended to its FEC lines, then built."""
    load_raw_book(config)
    run_pipeline("test_raw_book", [dlt.resource(lines, name="raw_sage_fec_lines", write_disposition="append")], config)
    with connect(config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        yield engine


def test_entries_of_two_fiscal_years_stay_apart(warehouse_config: WarehouseConfig) -> None:
    with _built_with(warehouse_config, LINES_2026) as engine:
        invoices = engine.query("SELECT invoice_id, amount_total, source_id FROM int_invoices "
                                "WHERE doc_type = 'invoice' ORDER BY invoice_id")
        receipts = engine.query("SELECT payment_id, amount, paid_on FROM fct_payment WHERE channel = 'erp' "
                                "ORDER BY payment_id")
    # the first year's ids stay as they were; the next year's entries carry their year
    assert invoices == [("FA-2025-000001", Decimal("1200.00"), "VE-1"), ("FA-2026-000001", Decimal("600.00"), "VE-1/2026")]
    assert receipts == [("FEC-BQ-3-2", Decimal("1080.00"), date(2025, 2, 9)),
                        ("FEC-BQ-3/2026-2", Decimal("600.00"), date(2026, 1, 20))]


def test_a_lettering_code_names_one_group_per_customer_and_year(warehouse_config: WarehouseConfig) -> None:
    """A FEC letters per account: AC is C009's first lettering of 2025, C010's too, and C009 starts its
    codes again in 2026. Each group settles its own invoice with its own receipt."""
    lines = [
        _fec("70", "VE", 1, "411000", "C009", "FA-2025-000009", date(2025, 2, 1), "300.00", "0.00", "AC"),
        _fec("70", "VE", 2, "706000", "", "FA-2025-000009", date(2025, 2, 1), "0.00", "300.00"),
        _fec("71", "BQ", 1, "512000", "", "VIR", date(2025, 3, 1), "300.00", "0.00"),
        _fec("71", "BQ", 2, "411000", "C009", "VIR", date(2025, 3, 1), "0.00", "300.00", "AC"),
        _fec("72", "VE", 1, "411000", "C010", "FA-2025-000010", date(2025, 2, 3), "200.00", "0.00", "AC"),
        _fec("72", "VE", 2, "706000", "", "FA-2025-000010", date(2025, 2, 3), "0.00", "200.00"),
        _fec("73", "BQ", 1, "512000", "", "VIR", date(2025, 3, 5), "200.00", "0.00"),
        _fec("73", "BQ", 2, "411000", "C010", "VIR", date(2025, 3, 5), "0.00", "200.00", "AC"),
        _of_2026("5", "VE", 1, "411000", "C009", "FA-2026-000009", date(2026, 1, 6), "90.00", "0.00", "AC"),
        _of_2026("5", "VE", 2, "706000", "", "FA-2026-000009", date(2026, 1, 6), "0.00", "90.00"),
        _of_2026("6", "BQ", 1, "512000", "", "VIR", date(2026, 1, 25), "90.00", "0.00"),
        _of_2026("6", "BQ", 2, "411000", "C009", "VIR", date(2026, 1, 25), "0.00", "90.00", "AC"),
    ]
    with _built_with(warehouse_config, lines) as engine:
        codes = engine.query("SELECT invoice_id, erp_lettrage FROM int_invoices WHERE customer_id IN ('C009', 'C010') "
                             "ORDER BY invoice_id")
        settled = engine.query("SELECT s.invoice_id, s.settled_on FROM int_erp_settlements AS s "
                               "WHERE s.invoice_id IN ('FA-2025-000009', 'FA-2025-000010', 'FA-2026-000009') ORDER BY 1")
    assert codes == [("FA-2025-000009", "AC/C009"), ("FA-2025-000010", "AC/C010"), ("FA-2026-000009", "AC/C009/2026")]
    assert settled == [("FA-2025-000009", date(2025, 3, 1)), ("FA-2025-000010", date(2025, 3, 5)),
                       ("FA-2026-000009", date(2026, 1, 25))]
