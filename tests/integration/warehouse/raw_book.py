"""A tiny book written straight into ``raw_*`` tables with dlt, as connectors would.

Shapes follow connectors/README.md, so these tests pin the interface between the
connectors and the staging SQL without depending on any parser.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from decimal import Decimal as D
from typing import Any

import dlt

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.load import run_pipeline


def _fec(entry: str, journal: str, line: int, compte: str, aux: str, piece: str, d: date,
         debit: str, credit: str, let: str = "", devise: tuple[str, str] | None = None) -> dict[str, Any]:
    """One raw FEC line; ``devise`` is (Montantdevise, Idevise) for a line booked in another currency."""
    return {
        "entity": "FR01", "journal_code": journal, "journal_lib": journal, "ecriture_num": entry,
        "ecriture_date": d, "compte_num": compte, "compte_lib": compte, "comp_aux_num": aux,
        "comp_aux_lib": "ACME SAS" if aux else "", "piece_ref": piece, "piece_date": d,
        "ecriture_lib": f"Facture {piece}", "debit": D(debit), "credit": D(credit), "ecriture_let": let,
        "date_let": None, "valid_date": d, "montant_devise": D(devise[0]) if devise else None, "idevise": devise[1] if devise else "",
        "line_in_entry": line,
        "source_file": "FEC.txt", "line_no": 1, "file_hash": "h",
    }


FEC_LINES = [
    # FA-2025-000001: 1,200.00 TTC
    _fec("1", "VE", 1, "411000", "C001", "FA-2025-000001", date(2025, 1, 10), "1200.00", "0.00", "AA"),
    _fec("1", "VE", 2, "706000", "", "FA-2025-000001", date(2025, 1, 10), "0.00", "1000.00"),
    _fec("1", "VE", 3, "445710", "", "FA-2025-000001", date(2025, 1, 10), "0.00", "200.00"),
    # AV-2025-000001: credit note of 120.00
    _fec("2", "VE", 1, "411000", "C001", "AV-2025-000001", date(2025, 1, 20), "0.00", "120.00"),
    _fec("2", "VE", 2, "706000", "", "AV-2025-000001", date(2025, 1, 20), "100.00", "0.00"),
    _fec("2", "VE", 3, "445710", "", "AV-2025-000001", date(2025, 1, 20), "20.00", "0.00"),
    # receipt booked by the accountant
    _fec("3", "BQ", 1, "512000", "", "VIR", date(2025, 2, 9), "1080.00", "0.00"),
    _fec("3", "BQ", 2, "411000", "C001", "VIR", date(2025, 2, 9), "0.00", "1080.00", "AA"),
]
FEC_CUSTOMERS = [{
    "entity": "FR01", "customer_account": "C001", "name": "ACME SAS", "email": "Compta@Acme.example",
    "vat_id": "FR12345678901", "siren": "345678901", "payment_terms_days": 30,
    "iban": "FR76 3000 6000 0112 3456 7890 189", "credit_limit": D("5000.00"), "country": "fr",
    "account_owner": "alice", "source_file": "customers.csv", "line_no": 2,
}]
BANK = [
    {"bank_line_id": "B1", "entity": "FR01", "account_iban": "FR7630004000010001234567890", "statement_id": "S1",
     "booking_date": date(2025, 2, 9), "value_date": date(2025, 2, 9), "amount": D("1080.00"), "currency": "EUR",
     "status": "BOOK", "credit_debit": "CRDT", "bank_tx_code": "PMNT/RCDT/ESCT", "counterparty_name": "ACME SAS",
     "counterparty_iban": "FR7630006000011234567890189", "remittance_unstructured": "FACTURE FA2025000001",
     "creditor_reference": None, "end_to_end_id": "NOTPROVIDED", "return_reason": None, "batch_size": 1,
     "additional_info": None, "source_file": "s.xml", "file_hash": "h"},
    {"bank_line_id": "B2", "entity": "FR01", "account_iban": "FR7630004000010001234567890", "statement_id": "S1",
     "booking_date": date(2025, 2, 12), "value_date": date(2025, 2, 12), "amount": D("97.30"), "currency": "EUR",
     "status": "BOOK", "credit_debit": "CRDT", "bank_tx_code": "PMNT/RCDT/ESCT",
     "counterparty_name": "STRIPE PAYMENTS EUROPE LTD", "counterparty_iban": "IE00STRP00000000000000",
     "remittance_unstructured": "STRIPE po_1", "creditor_reference": None, "end_to_end_id": None,
     "return_reason": None, "batch_size": 1, "additional_info": None, "source_file": "s.xml", "file_hash": "h"},
]
STRIPE_CHARGES = [{
    "id": "ch_1", "entity": "FR01", "amount": 10000, "amount_refunded": 0, "currency": "eur",
    "created": 1739001600, "customer": "cus_1", "description": "Invoice FA-2025-000002", "status": "succeeded",
    "paid": True, "refunded": False, "disputed": False, "balance_transaction": "txn_1", "payment_intent": "pi_1",
    "failure_code": None, "billing_details__name": "Beta SARL", "metadata__invoice_number": "FA-2025-000002",
    "metadata__erp_customer_id": "C002",
}]
STRIPE_BT = [
    {"id": "txn_1", "entity": "FR01", "payout": "po_1", "amount": 10000, "fee": 270, "net": 9730, "currency": "eur",
     "created": 1739001600, "available_on": 1739174400, "reporting_category": "charge", "type": "charge",
     "source": "ch_1", "status": "available"},
]
STRIPE_PAYOUTS = [{
    "id": "po_1", "entity": "FR01", "amount": 9730, "currency": "eur", "arrival_date": 1739318400,
    "created": 1739232000, "status": "paid", "statement_descriptor": "STRIPE po_1", "balance_transaction": "txn_po1",
}]


_EMPTY_TYPES = {"date_let": "date", "montant_devise": "decimal"}


def _hints_for_empty_columns(rows: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Columns that are None in every row still exist, as connectors guarantee through dlt hints."""
    empty = [c for c in rows[0] if all(r.get(c) is None for r in rows)]
    return {c: {"data_type": _EMPTY_TYPES.get(c, "text")} for c in empty}


def load_raw_book(config: WarehouseConfig, *, more_bank_lines: Sequence[dict[str, Any]] = (),
                  more_fec_lines: Sequence[dict[str, Any]] = ()) -> None:
    """Write the tiny book's raw tables into ``config``'s warehouse (``more_bank_lines``: rows shaped as BANK's,
    ``more_fec_lines`` as FEC_LINES')."""
    tables = {
        "raw_sage_fec_lines": FEC_LINES + list(more_fec_lines),
        "raw_sage_fec_customers": FEC_CUSTOMERS,
        "raw_camt053_entries": BANK + list(more_bank_lines),
        "raw_stripe_charges": STRIPE_CHARGES,
        "raw_stripe_balance_transactions": STRIPE_BT,
        "raw_stripe_payouts": STRIPE_PAYOUTS,
    }
    resources = [
        dlt.resource(rows, name=name, write_disposition="replace", columns=_hints_for_empty_columns(rows))
        for name, rows in tables.items()
    ]
    run_pipeline("test_raw_book", resources, config)


@contextmanager
def built_raw_book(config: WarehouseConfig, *, as_of: date, edits: Sequence[str] = (),
                   more_fec_lines: Sequence[dict[str, Any]] = (), more_bank_lines: Sequence[dict[str, Any]] = (),
                   more_rows: dict[str, list[dict[str, Any]]] | None = None) -> Iterator[Engine]:
    """The tiny book loaded (``more_rows``: rows appended to other raw tables, by table name), its raw tables edited
    by ``edits`` (another export's way), then staging and core built as of ``as_of``."""
    load_raw_book(config, more_fec_lines=more_fec_lines, more_bank_lines=more_bank_lines)
    resources = [dlt.resource(rows, name=table, write_disposition="append") for table, rows in (more_rows or {}).items()]
    if resources:
        run_pipeline("test_raw_book_more", resources, config)
    with connect(config) as engine:
        for statement in edits:
            engine.execute(statement)
        build_core(engine, as_of=as_of, report=build_staging(engine))
        yield engine
