"""A small receivables book, a loopback SFTP server and a contract that points at it.

As of 2026-11-25; contract FDEMO-2026-001 (mappings/factoring.yaml) targets at_risk
customers and customers on 60-day terms, advance 85 %.

    inv   cust  segment    terms issue       due         amount   what happens
    A1    C1    at_risk    30    2026-11-01  2026-12-01  1000.00  eligible
    A2    C1    at_risk    30    2026-11-10  2026-12-10  2000.00  eligible
    A3    C1    at_risk    30    2026-11-12  2026-12-12   500.00  disputed → refused
    L1    C2    punctual   60    2026-10-20  2026-12-19  3000.00  eligible (long terms)
    L2    C2    punctual   60    2026-06-01  2026-07-31   800.00  too old / overdue too long → refused
    P1    C3    punctual   30    2026-11-05  2026-12-05  1500.00  not targeted → refused
    G1    C4    at_risk    60    2026-11-05  2027-01-04  4000.00  intra-group (Lettrage Demo GmbH) → refused
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actions.factoring.schema import ensure_factoring_tables
from lettrage.config import WarehouseConfig
from mappings.factoring import FactorContract, SftpDelivery, load_factoring
from tests.integration.factoring.sftp_server import LoopbackSftp, start_sftp
from warehouse.engine import Engine, connect

AS_OF = date(2026, 11, 25)
E = "FR01"
REMOTE_DIR = "/in/bordereaux"

CUSTOMERS = [
    # id, name, country, terms, segment, score, vat
    ("C1", "Risky SARL", "FR", 30, "at_risk", "22.5", "FR11111111111"),
    ("C2", "Patient SA", "FR", 60, "punctual", "91.0", "FR22222222222"),
    ("C3", "Prompt SAS", "FR", 30, "punctual", "95.0", "FR33333333333"),
    ("C4", "Lettrage Demo GmbH", "DE", 60, "at_risk", "30.0", "DE444444444"),
]
INVOICES = [
    # id, cust, issue, due, amount, disputed
    ("A1", "C1", "2026-11-01", "2026-12-01", "1000.00", False),
    ("A2", "C1", "2026-11-10", "2026-12-10", "2000.00", False),
    ("A3", "C1", "2026-11-12", "2026-12-12", "500.00", True),
    ("L1", "C2", "2026-10-20", "2026-12-19", "3000.00", False),
    ("L2", "C2", "2026-06-01", "2026-07-31", "800.00", False),
    ("P1", "C3", "2026-11-05", "2026-12-05", "1500.00", False),
    ("G1", "C4", "2026-11-05", "2027-01-04", "4000.00", False),
]
ELIGIBLE = {"A1", "A2", "L1"}


@dataclass
class FactoringBook:
    engine: Engine

    def insert(self, table: str, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        self.engine.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join(':' + c for c in row)})", row)

    def load(self) -> None:
        for cid, name, country, terms, segment, score, vat in CUSTOMERS:
            self.insert("dim_customer", {"entity": E, "customer_id": cid, "name": name, "country": country,
                                         "payment_terms_days": terms, "vat_id": vat, "currency": "EUR",
                                         "source_system": "test", "source_id": cid})
            self.insert("mart_customer_payment_behaviour", {"entity": E, "customer_id": cid, "customer_name": name,
                                                            "segment": segment, "score": Decimal(score),
                                                            "as_of": AS_OF})
        for iid, cid, issue, due, amount, disputed in INVOICES:
            self.invoice(iid, cid, issue, due, amount, disputed=disputed)

    def invoice(self, iid: str, cid: str, issue: str, due: str, amount: str, *, disputed: bool = False,
                open_amount: str | None = None, status: str | None = None) -> None:
        d_due = date.fromisoformat(due)
        self.insert("fct_invoice", {
            "entity": E, "invoice_id": iid, "invoice_number": f"F-{iid}", "customer_id": cid, "doc_type": "invoice",
            "issue_date": date.fromisoformat(issue), "due_date": d_due, "currency": "EUR",
            "amount_total": Decimal(amount), "amount_open": Decimal(open_amount or amount),
            "status": status or ("disputed" if disputed else "overdue" if d_due < AS_OF else "open"),
            "disputed": disputed, "factored": False, "source_system": "test", "source_id": iid})

    def bank_line(self, line_id: str, amount: str, remittance: str, *, name: str = "AFFACTURAGE DEMO SA",
                  iban: str | None = "FR7612739000707654321098765", booked: date = date(2026, 11, 27)) -> None:
        self.insert("fct_bank_line", {
            "entity": E, "bank_line_id": line_id, "account_iban": "FR7630004907725320579463053",
            "booking_date": booked, "value_date": booked, "amount": Decimal(amount), "currency": "EUR",
            "counterparty_name": name, "counterparty_iban": iban, "remittance": remittance,
            "source_system": "test", "source_id": line_id})

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.engine.query_dicts(sql, params)


@pytest.fixture
def fbook(warehouse_config: WarehouseConfig) -> Iterator[FactoringBook]:
    with connect(warehouse_config) as engine:
        ensure_factoring_tables(engine)
        book = FactoringBook(engine)
        book.load()
        yield book


@pytest.fixture
def sftp(tmp_path: Path) -> Iterator[LoopbackSftp]:
    server = start_sftp(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def contract(sftp: LoopbackSftp, monkeypatch: pytest.MonkeyPatch) -> FactorContract:
    """The sample contract, delivering to the loopback server with a key and a pinned host key."""
    base = load_factoring().contract("FDEMO-2026-001")
    monkeypatch.setenv("TEST_FACTOR_KEY", str(sftp.client_key))
    monkeypatch.setenv("TEST_FACTOR_KNOWN_HOSTS", str(sftp.known_hosts))
    spec = SftpDelivery(host=sftp.host, port=sftp.port, username=sftp.username, remote_dir=REMOTE_DIR,
                        private_key_env="TEST_FACTOR_KEY", known_hosts_env="TEST_FACTOR_KNOWN_HOSTS",
                        timeout_seconds=10)
    return base.model_copy(update={"delivery": spec})
