"""A tiny receivables book in a fresh warehouse, a real SMTP server on loopback, and the provider sandbox."""

from __future__ import annotations

import email.policy
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from warehouse.engine import Engine, connect
from warehouse.reconcile.decisions import ensure_decision_tables, record_decision
from warehouse.reconcile.schema import RUN_STATE
from warehouse.schema import ensure_contract, ensure_table
from warehouse.shapes import SHAPES

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
    for customer, country, address, invoices in BOOK:
        _insert(engine, "dim_customer", {"entity": "FR01", "customer_id": customer, "name": f"Client {customer}",
                                         "email": address, "country": country, "account_owner": "Sophie Durand"})
        for inv_id, number, due, total, open_, extra in invoices:
            status = extra.get("status", "overdue" if due < AS_OF else "open")
            _insert(engine, "fct_invoice", {
                "entity": "FR01", "invoice_id": inv_id, "invoice_number": number, "customer_id": customer,
                "doc_type": "invoice", "issue_date": date(2026, 10, 1), "due_date": due, "currency": "EUR",
                "amount_total": total, "amount_open": open_, "status": status,
                "disputed": extra.get("disputed", False), "factored": extra.get("factored", False)})
    record_decision(engine, entity="FR01", kind="promise_to_pay", actor="sophie", invoice_id="I41",
                    after={"promised_on": "2026-12-05"})
    # what the build makes of GoCardless: C5's live mandate, and PM7, a direct debit submitted for FA-71
    ensure_table(engine, "int_mandates", SHAPES["mandates"])
    _insert(engine, "int_mandates", {"entity": "FR01", "mandate_id": "MD5", "status": "active", "customer_id": "C5",
                                     "customer_via": "metadata", "source_system": "gocardless", "source_id": "MD5"})
    _insert(engine, "fct_payment", {"entity": "FR01", "payment_id": "PM7", "channel": "gocardless", "customer_id": "C7",
                                    "amount": "900.00", "fee": "0", "currency": "EUR", "paid_on": date(2026, 11, 26),
                                    "status": "pending", "reference": "FA-71", "mandate_id": "MD7",
                                    "source_system": "gocardless", "source_id": "PM7"})
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
    import socket

    from aiosmtpd.controller import Controller

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


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


IMAP_USER, IMAP_PASSWORD = "demouser", "demopass"


@pytest.fixture(scope="session")
def imap_server() -> Iterator[tuple[str, int]]:
    """pymap's in-memory IMAP server on loopback (demo user, mailboxes INBOX/Sent/Trash), as a child process."""
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("pymap", reason="pymap (test extra) provides the loopback IMAP server")
    port = free_port()
    launcher = "import sys; from pymap.main import main; sys.exit(main())"  # pymap has no __main__
    proc = subprocess.Popen([sys.executable, "-c", launcher, "--host", "127.0.0.1", "--port", str(port), "dict",
                             "--demo-data", "--demo-user", IMAP_USER, "--demo-password", IMAP_PASSWORD],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"pymap did not start: {proc.stderr.read() if proc.stderr else ''}")  # noqa: B904
                time.sleep(0.1)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class ArchivingMailbox(Mailbox):
    """An SMTP server that files a copy of every accepted message in the IMAP ``Sent`` folder, as providers do."""

    def __init__(self, imap_port: int) -> None:
        super().__init__()
        self.imap_port = imap_port

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        import imaplib
        import time

        conn = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        conn.append("Sent", None, imaplib.Time2Internaldate(time.time()), envelope.content)
        conn.logout()
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def archiving_smtp(imap_server: tuple[str, int]) -> Iterator[tuple[ArchivingMailbox, int]]:
    from aiosmtpd.controller import Controller

    port = free_port()
    box = ArchivingMailbox(imap_server[1])
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


WORLD_AS_OF = date(2026, 11, 25)
WORLD_ENTITY = "FR01"


@pytest.fixture(scope="session")
def sample_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A small generated world, FR01's sources loaded through the real connectors and built (DuckDB).

    One entity only, to keep the session fast; on top of what the generator makes, a
    person's dispute decision on two overdue invoices, one invoice assigned to a factor,
    and a reminder sent on 5 Nov on every invoice 30 to 44 days late (so formal notices,
    with their penalties, are due today).
    """
    from connectors.registry import build_job, load_sources_config
    from sandbox.demo import write_sources_file
    from sandbox.server import serve
    from sandbox.world import write_world
    from warehouse.build import build_all
    from warehouse.load import run_pipeline

    tmp = tmp_path_factory.mktemp("dunning_world")
    root = tmp / "world"
    config = WarehouseConfig(url=f"duckdb:///{tmp / 'wh.duckdb'}", dataset="lettrage")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LETTRAGE__WAREHOUSE_URL", config.url)
        mp.setenv("LETTRAGE__DATASET", config.dataset)
        mp.setenv("LETTRAGE__PIPELINES_DIR", str(tmp / "dlt"))
        write_world(root, seed=42, size="small", as_of=WORLD_AS_OF)
        world = json.loads((root / "world.json").read_text())
        with serve(root) as sb:
            cfg = load_sources_config(write_sources_file(root, world, sb.stripe_base, sb.gocardless_base))
            for entity, source in cfg.jobs(entities=[WORLD_ENTITY]):
                job = build_job(cfg, entity, source)
                run_pipeline(job.pipeline_name, job.dlt_source)
        with connect(config) as engine:
            build_all(engine, as_of=WORLD_AS_OF)
            extras = _world_extras(engine)
    yield {"config": config, "root": root, "as_of": WORLD_AS_OF, "entity": WORLD_ENTITY, **extras}


def _world_extras(engine: Engine) -> dict[str, Any]:
    overdue = [str(r[0]) for r in engine.query(
        "SELECT i.invoice_id FROM fct_invoice AS i WHERE i.entity = :e AND i.doc_type = 'invoice' "
        "AND i.status = 'overdue' AND i.amount_open > 0 ORDER BY i.due_date, i.invoice_id", {"e": WORLD_ENTITY})]
    disputed, factored = overdue[-2:], overdue[-3:-2]
    reminded = [str(r[0]) for r in engine.query(  # 30 to 44 days late: a formal notice is due once reminded
        "SELECT invoice_id FROM fct_invoice WHERE entity = :e AND doc_type = 'invoice' AND amount_open > 0 "
        "AND due_date BETWEEN :a AND :b ORDER BY invoice_id",
        {"e": WORLD_ENTITY, "a": WORLD_AS_OF - timedelta(days=44), "b": WORLD_AS_OF - timedelta(days=30)})]
    for invoice_id in disputed:
        record_decision(engine, entity=WORLD_ENTITY, kind="dispute", actor="test", invoice_id=invoice_id,
                        reason="customer contests the delivery")
    engine.execute("UPDATE fct_invoice SET factored = TRUE WHERE entity = :e AND invoice_id = :i",
                   {"e": WORLD_ENTITY, "i": factored[0]})
    sent = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
    for invoice_id in reminded:
        engine.execute(
            "INSERT INTO fct_dunning_action (entity, invoice_id, step, customer_id, channel, planned_on, sent_at, "
            "outcome) SELECT entity, invoice_id, 'reminder', customer_id, 'email', :day, :sent, 'sent' "
            "FROM fct_invoice WHERE entity = :e AND invoice_id = :i",
            {"e": WORLD_ENTITY, "i": invoice_id, "day": sent.date(), "sent": sent})
    return {"disputed": disputed, "factored": factored, "reminded": reminded}
