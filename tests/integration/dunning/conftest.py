"""A tiny receivables book in a fresh warehouse, a real SMTP server on loopback, and the provider sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
import email.policy
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from warehouse.engine import Engine, connect
from warehouse.reconcile.schema import RUN_STATE
from warehouse.reconcile.decisions import ensure_decision_tables, record_decision
from warehouse.schema import ensure_contract, ensure_table

AS_OF = date(2026, 11, 25)
STRIPE_KEY, GC_TOKEN = "sk_test_dunning_FR01", "gc_dunning_FR01_token"

# customer, country, email, invoices (id, number, due, total, open, extra flags)
BOOK: list[tuple[str, str, str, list[tuple[Any, ...]]]] = [
    ("C1", "FR", "compta@client-un.fr", [("I11", "FA-11", date(2026, 11, 18), "1000.00", "400.00", {}),
                                         ("I12", "FA-12", date(2026, 11, 25), "250.00", "250.00", {})]),
    ("C2", "GB", "ap@client-two.example", [("I21", "FA-21", date(2026, 11, 20), "3000.00", "3000.00", {})]),
    ("C3", "FR", "compta@litige.fr", [("I31", "FA-31", date(2026, 11, 10), "500.00", "500.00", {"disputed": True})]),
    ("C4", "FR", "compta@promesse.fr", [("I41", "FA-41", date(2026, 11, 10), "700.00", "700.00", {})]),
    ("C5", "FR", "compta@prelevement.fr", [("I51", "FA-51", date(2026, 11, 24), "800.00", "800.00", {})]),
    ("C6", "FR", "compta@petit.fr", [("I61", "FA-61", date(2026, 11, 10), "5.00", "5.00", {})]),
    ("C7", "FR", "compta@en-route.fr", [("I71", "FA-71", date(2026, 11, 10), "900.00", "900.00", {})]),
    ("C8", "FR", "compta@affacture.fr", [("I81", "FA-81", date(2026, 11, 10), "600.00", "600.00", {"factored": True})]),
    ("C9", "FR", "compta@paye.fr", [("I91", "FA-91", date(2026, 11, 10), "600.00", "0.00", {"status": "paid"})]),
]
EXCLUDED = {"compta@litige.fr", "compta@promesse.fr", "compta@prelevement.fr", "compta@petit.fr",
            "compta@en-route.fr", "compta@affacture.fr", "compta@paye.fr"}


def _insert(engine: Engine, table: str, row: dict[str, Any]) -> None:
    engine.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})", row)


def seed(engine: Engine) -> None:
    ensure_contract(engine)
    ensure_table(engine, "reconcile_run", RUN_STATE)
    ensure_decision_tables(engine)
    for customer, country, email, invoices in BOOK:
        _insert(engine, "dim_customer", {"entity": "FR01", "customer_id": customer, "name": f"Client {customer}",
                                         "email": email, "country": country, "account_owner": "Sophie Durand"})
        for inv_id, number, due, total, open_, extra in invoices:
            status = extra.get("status", "overdue" if due < AS_OF else "open")
            _insert(engine, "fct_invoice", {
                "entity": "FR01", "invoice_id": inv_id, "invoice_number": number, "customer_id": customer,
                "doc_type": "invoice", "issue_date": date(2026, 10, 1), "due_date": due, "currency": "EUR",
                "amount_total": total, "amount_open": open_, "status": status,
                "disputed": extra.get("disputed", False), "factored": extra.get("factored", False)})
    record_decision(engine, entity="FR01", kind="promise_to_pay", actor="sophie", invoice_id="I41",
                    after={"promised_on": "2026-12-05"})
    engine.execute("CREATE TABLE raw_gocardless_customers (id VARCHAR(40), entity VARCHAR(10), "
                   "metadata__erp_customer_id VARCHAR(40))")
    engine.execute("CREATE TABLE raw_gocardless_mandates (id VARCHAR(40), entity VARCHAR(10), status VARCHAR(40), "
                   "links__customer VARCHAR(40))")
    engine.execute("CREATE TABLE raw_gocardless_payments (id VARCHAR(40), entity VARCHAR(10), status VARCHAR(40), "
                   "amount BIGINT, currency VARCHAR(3), reference VARCHAR(200), description VARCHAR(200), "
                   "metadata__invoice_number VARCHAR(40), metadata__erp_customer_id VARCHAR(40))")
    _insert(engine, "raw_gocardless_customers", {"id": "CU5", "entity": "FR01", "metadata__erp_customer_id": "C5"})
    _insert(engine, "raw_gocardless_mandates", {"id": "MD5", "entity": "FR01", "status": "active",
                                                "links__customer": "CU5"})
    _insert(engine, "raw_gocardless_payments", {"id": "PM7", "entity": "FR01", "status": "submitted", "amount": 90000,
                                                "currency": "EUR", "reference": "FA-71", "description": None,
                                                "metadata__invoice_number": "FA-71", "metadata__erp_customer_id": "C7"})
    _insert(engine, "reconcile_run", {"entity": "FR01", "as_of": AS_OF, "rules_hash": "x",
                                      "finished_at": datetime.now(UTC)})


@pytest.fixture
def book(warehouse_config: WarehouseConfig) -> WarehouseConfig:
    with connect(warehouse_config) as engine:
        seed(engine)
    return warehouse_config


class Mailbox:
    """aiosmtpd handler: keeps every accepted message (a real SMTP conversation on 127.0.0.1)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        msg = message_from_bytes(envelope.content, policy=email.policy.default)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(msg)
        return "250 OK queued"

    def ids(self) -> list[str]:
        return [m["Message-ID"] for m in self.messages]

    def accepted(self, message_id_header: str) -> bool | None:
        """The acceptance checker a deployment points at its archive mailbox."""
        return message_id_header in self.ids()


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    import socket

    with socket.socket() as probe:  # aiosmtpd's readiness check cannot use port 0: pick a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def provider_sandbox(tmp_path: Path) -> Iterator[Any]:
    from sandbox.server import serve

    root = tmp_path / "world"
    (root / "FR01" / "gocardless").mkdir(parents=True)
    (root / "world.json").write_text(json.dumps({"as_of": AS_OF.isoformat(), "entities": [
        {"code": "FR01", "stripe_api_key": STRIPE_KEY, "gocardless_access_token": GC_TOKEN}]}), encoding="utf-8")
    (root / "FR01" / "gocardless" / "mandates.jsonl").write_text(json.dumps(
        {"id": "MD5", "created_at": "2025-01-01T00:00:00.000Z", "status": "active", "scheme": "sepa_core",
         "links": {"customer": "CU5"}}) + "\n", encoding="utf-8")
    with serve(root) as sb:
        yield sb
