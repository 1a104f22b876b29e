"""A FEC from a package that numbers pieces itself (Cegid, EBP): PieceRef is the journal's own piece
number (001002, per journal) and the invoice number is only in the label. Staging on DuckDB and Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import dlt
import pytest

from lettrage.config import WarehouseConfig
from mappings.sage_fec import FecConventions, load_fec_conventions
from warehouse import sql
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, load_raw_book

AS_OF = date(2025, 3, 1)


def _line(entry: str, journal: str, line: int, compte: str, piece: str, d: date, debit: str, credit: str,
          label: str) -> dict[str, Any]:
    """A line of an individual-account FEC (411MARTIN, no CompAuxNum), as Cegid and EBP export them."""
    return {**_fec(entry, journal, line, compte, "", piece, d, debit, credit),
            "compte_lib": compte, "comp_aux_lib": "", "ecriture_lib": label}


def _sale(entry: str, journal: str, piece: str, d: date, customer: str, ttc: str, label: str) -> list[dict[str, Any]]:
    """An invoice (positive ``ttc``) or a credit note (negative): the customer line against revenue (70…)."""
    amount = Decimal(ttc)
    side = (ttc, "0.00") if amount > 0 else ("0.00", str(-amount))
    return [_line(entry, journal, 1, customer, piece, d, *side, label),
            _line(entry, journal, 2, "706000" if amount > 0 else "709000", piece, d, *reversed(side), label)]


# Sales journal VT and credit-note journal AV both number from 001001: VT 001002 and AV 001002 are two
# documents; the credit note is booked first, yet the sales journal's document keeps the bare PieceRef.
PIECES = [
    *_sale("VT000002", "VT", "001002", date(2025, 1, 10), "411MARTIN", "11249.20", "Facture F2026-0002 MARTIN"),
    *_sale("AV000002", "AV", "001002", date(2025, 1, 5), "411DUPONT", "-171.30", "Avoir A2026-0172 s/ F2026-0063"),
    *_sale("VT000003", "VT", "001003", date(2025, 1, 12), "411DUPONT", "600.00", "Facture F2026-0003 DUPONT"),
    # no number in the label: the piece number is all there is to print
    *_sale("VT000004", "VT", "001004", date(2025, 1, 14), "411DUPONT", "240.00", "DUPONT prestations janvier"),
    # two lines of one invoice, each label naming it (deposit and balance)
    _line("VT000005", "VT", 1, "411MARTIN", "001005", date(2025, 1, 15), "300.00", "0.00",
          "Fact. n° F2026-0005 MARTIN acompte 30%"),
    _line("VT000005", "VT", 2, "411MARTIN", "001005", date(2025, 1, 15), "700.00", "0.00",
          "Fact. n° F2026-0005 MARTIN solde 70%"),
    _line("VT000005", "VT", 3, "706000", "001005", date(2025, 1, 15), "0.00", "1000.00", "Fact. F2026-0005"),
    # two journals besides sales reusing one piece number: the first booked keeps it
    *_sale("AV000006", "AV", "001006", date(2025, 1, 20), "411MARTIN", "-60.00", "Avoir A2026-0180"),
    *_sale("OD000006", "OD", "001006", date(2025, 1, 18), "411MARTIN", "-40.00", "Avoir A2026-0181"),
]
# MARTIN pays the invoice quoting the number printed on it, not the piece number.
BANK_RECEIPT = {**BANK[0], "bank_line_id": "B9", "booking_date": date(2025, 2, 10), "value_date": date(2025, 2, 10),
                "amount": Decimal("11249.20"), "counterparty_name": "MARTIN SA", "counterparty_iban": None,
                "remittance_unstructured": "VIR MARTIN SA REGLEMENT F2026-0002"}


@contextmanager
def _built(config: WarehouseConfig) -> Iterator[Engine]:
    load_raw_book(config)
    run_pipeline("test_raw_book", [
        dlt.resource(PIECES, name="raw_sage_fec_lines", write_disposition="append"),
        dlt.resource([BANK_RECEIPT], name="raw_camt053_entries", write_disposition="append"),
    ], config)
    with connect(config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        yield engine


def test_documents_are_per_journal_and_numbered_from_the_label(warehouse_config: WarehouseConfig) -> None:
    with _built(warehouse_config) as engine:
        invoices = sorted(engine.query("SELECT invoice_id, invoice_number, customer_id, doc_type, amount_total, "
                                       "source_id FROM stg_sage_fec__invoices"))  # the engines collate apart
        ids = engine.query("SELECT count(*), count(DISTINCT invoice_id) FROM int_invoices")[0]
    assert invoices == [
        ("001002", "F2026-0002", "411MARTIN", "invoice", Decimal("11249.20"), "VT-VT000002"),
        ("001003", "F2026-0003", "411DUPONT", "invoice", Decimal("600.00"), "VT-VT000003"),
        ("001004", "001004", "411DUPONT", "invoice", Decimal("240.00"), "VT-VT000004"),
        ("001005", "F2026-0005", "411MARTIN", "invoice", Decimal("1000.00"), "VT-VT000005"),
        ("001006", "A2026-0181", "411MARTIN", "credit_note", Decimal("-40.00"), "OD-OD000006"),
        ("AV-2025-000001", "AV-2025-000001", "C001", "credit_note", Decimal("-120.00"), "VE-2"),  # Sage's: as before
        ("AV/001002", "A2026-0172", "411DUPONT", "credit_note", Decimal("-171.30"), "AV-AV000002"),
        ("AV/001006", "A2026-0180", "411MARTIN", "credit_note", Decimal("-60.00"), "AV-AV000006"),
        ("FA-2025-000001", "FA-2025-000001", "C001", "invoice", Decimal("1200.00"), "VE-1"),
    ]
    assert ids[0] == ids[1]


def test_a_payment_quoting_the_printed_number_pays_the_piece(warehouse_config: WarehouseConfig) -> None:
    with _built(warehouse_config) as engine:
        reconcile(engine, as_of=AS_OF, entity="FR01")
        matches = engine.query("SELECT invoice_id, amount_applied FROM fct_match WHERE payment_id = 'B9'")
    assert matches == [("001002", Decimal("11249.20"))]


LABELS = [  # (label, number the shipped invoice_number_in_label reads in it)
    ("Facture F2026-0031 DUPONT", "F2026-0031"),
    ("Avoir A2026-0171 s/ F2026-0038", "A2026-0171"),
    ("Facture FA-2025-000001", "FA-2025-000001"),  # our Sage sample's labels
    ("Facture FA-2025-000101 – acompte 20 %", "FA-2025-000101"),
    ("Fact. 2026/0042", "2026/0042"),
    ("FACTURE N° F12345", "F12345"),
    ("facture nº 12345 x", "12345"),
    ("AV 2026-0012 remise", "2026-0012"),
    ("Règlement facture F2026-0031", "F2026-0031"),
    ("BLANC FACT acompte 30%", None),  # a keyword, then no number
    ("Fac 123", None),  # too short to be an invoice number
    ("FA-2025-000001", None),  # no keyword
    ("FACTURATION 2026-0031", None),  # a longer word, not the keyword
    ("Virement l'Atelier", None),
]


@pytest.mark.parametrize(("pattern", "labels"), [
    (load_fec_conventions().invoice_number_in_label, LABELS),
    (r"(?i)\bfacture d'(\w+)\b", [("Facture d'acompte", "acompte"), ("l'acompte", None)]),  # quotes reach SQL
], ids=["shipped", "quote"])
def test_the_label_pattern_reads_alike_on_both_engines(warehouse_config: WarehouseConfig, pattern: str,
                                                       labels: list[tuple[str, str | None]]) -> None:
    conventions = FecConventions(invoice_number_in_label=pattern)
    assert conventions.invoice_number_in_label is not None
    quoted = [label.replace("'", "''") for label, _ in labels]
    values = ", ".join(f"({i}, '{label}')" for i, label in enumerate(quoted))
    with connect(warehouse_config) as engine:
        query = sql.render(f"SELECT n, {{{{ regex_group('lib', pattern) }}}} FROM (VALUES {values}) AS t(n, lib) "
                           "ORDER BY n", engine.name, pattern=conventions.invoice_number_in_label)
        found = [number for _, number in engine.query(query)]
    assert found == [number for _, number in labels]
