"""A small sample world for the desk (FR01 and DE01, DuckDB), loaded once per session.

On top of what the generator makes, one bank transfer in FR01 cites an overdue
invoice by its number but comes from another customer and for more than the
invoice owes: the cascade proposes it as a *suggested* match, the case a
reviewer confirms on the desk. Users: an admin, a reviewer of every entity, a
FR01 reader, a FR01 credit controller and a user kept for the throttling test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from tests.integration.reconcile.conftest import AS_OF as BOOK_AS_OF
from tests.integration.reconcile.conftest import Book
from warehouse.engine import connect

AS_OF = date(2026, 11, 25)
ENTITIES = ["FR01", "DE01"]
PASSWORD = "correct horse battery"
USERS = {
    "admin": ("admin", ["*"]),
    "rev": ("reviewer", ["*"]),
    "fr_reader": ("reader", ["FR01"]),
    "fr_cc": ("credit_controller", ["FR01"]),
    "victim": ("reviewer", ["FR01"]),
}
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="session")
def desk_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from connectors.registry import build_job, load_sources_config
    from desk.users import add_user
    from sandbox.demo import write_sources_file
    from sandbox.server import serve
    from sandbox.world import write_world
    from warehouse.build import build_all
    from warehouse.load import run_pipeline
    from warehouse.marts import refresh_marts
    from warehouse.reconcile import reconcile

    tmp = tmp_path_factory.mktemp("desk_world")
    root = tmp / "world"
    config = WarehouseConfig(url=f"duckdb:///{tmp / 'wh.duckdb'}", dataset="lettrage")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LETTRAGE__WAREHOUSE_URL", config.url)
        mp.setenv("LETTRAGE__DATASET", config.dataset)
        mp.setenv("LETTRAGE__PIPELINES_DIR", str(tmp / "dlt"))
        write_world(root, seed=42, size="small", as_of=AS_OF)
        world = json.loads((root / "world.json").read_text())
        with serve(root) as sb:
            cfg = load_sources_config(write_sources_file(root, world, sb.stripe_base, sb.gocardless_base))
            for entity, source in cfg.jobs(entities=ENTITIES):
                job = build_job(cfg, entity, source)
                run_pipeline(job.pipeline_name, job.dlt_source)
        with connect(config) as engine:
            build_all(engine, as_of=AS_OF)
            planted = [_add_suggestion(engine, n) for n in (1, 2)]
            reconcile(engine, as_of=AS_OF, entity="FR01", incremental=True)
            refresh_marts(engine, as_of=AS_OF)
            for suggestion in planted:
                state = engine.query("SELECT match_id, state FROM fct_match WHERE entity = 'FR01' "
                                     "AND payment_id = :p", {"p": suggestion["payment_id"]})
                assert [s for _, s in state] == ["suggested"], f"the planted payment should be a suggestion: {state}"
                suggestion["match_id"] = state[0][0]
            for name, (role, scope) in USERS.items():
                add_user(engine, name, role=role, entities=scope, password=PASSWORD)
    # one suggestion for the TestClient tests, one for the browser test
    yield {"config": config, "root": root, "suggestion": planted[0], "browser_suggestion": planted[1]}


def _add_suggestion(engine: Any, n: int) -> dict[str, Any]:
    inv = engine.query_dicts(
        "SELECT i.invoice_id, i.invoice_number, i.customer_id, i.amount_open, i.currency FROM fct_invoice AS i "
        "WHERE i.entity = 'FR01' AND i.doc_type = 'invoice' AND i.status = 'overdue' AND i.currency = 'EUR' "
        "AND i.amount_open = i.amount_total AND NOT coalesce(i.disputed, FALSE) AND NOT EXISTS "
        "(SELECT 1 FROM fct_match AS m WHERE m.entity = i.entity AND m.invoice_id = i.invoice_id) "
        "AND NOT EXISTS (SELECT 1 FROM fct_payment AS p WHERE p.entity = 'FR01' AND p.payment_id LIKE 'DESK-%' "
        "AND p.reference = 'VIR ' || i.invoice_number) "
        "ORDER BY i.due_date, i.invoice_id LIMIT 1")[0]
    payer = engine.query_dicts(
        "SELECT customer_id, name FROM dim_customer WHERE entity = 'FR01' AND customer_id <> :c "
        "ORDER BY customer_id LIMIT 1 OFFSET :n", {"c": inv["customer_id"], "n": n})[0]
    payment = {"payment_id": f"DESK-SUGGEST-{n}", "amount": inv["amount_open"] + Decimal("431.10"),
               "reference": f"VIR {inv['invoice_number']}", "customer_id": payer["customer_id"],
               "payer_name": payer["name"]}
    engine.execute(
        "INSERT INTO fct_payment (entity, payment_id, channel, customer_id, amount, fee, currency, paid_on, status, "
        "reference, payer_name, payer_iban, source_system, source_id) VALUES ('FR01', :payment_id, 'bank_transfer', "
        ":customer_id, :amount, 0, 'EUR', DATE '2026-11-20', 'succeeded', :reference, :payer_name, "
        "'FR7630006000011234567890189', 'camt053', :payment_id)", payment)
    return {**payment, "invoice_id": inv["invoice_id"], "invoice_open": inv["amount_open"]}


def settle(book: Book) -> Book:
    """Reconcile a hand-built book and refresh its marts at the book's date: the state the desk reads.

    The desk's engine tests fill a tiny book (``tests/integration/reconcile/conftest.py``), then
    need exactly what the nightly run would leave behind before a page or an action looks at it.
    """
    from warehouse.marts import refresh_marts
    from warehouse.reconcile import reconcile

    reconcile(book.engine, as_of=BOOK_AS_OF)
    refresh_marts(book.engine, as_of=BOOK_AS_OF)
    return book


@pytest.fixture(scope="session")
def desk_app(desk_world: dict[str, Any]) -> Any:
    from desk import DeskSettings, create_app

    return create_app(DeskSettings(warehouse=desk_world["config"], secret="test-secret-" + "x" * 24))


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "page has no CSRF field"
    return found.group(1)


def sign_in(client: Any, username: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf": token, "next": "/"},
                       follow_redirects=False)


@pytest.fixture
def client_for(desk_app: Any) -> Any:
    """``client_for("rev")``: a TestClient signed in as that user."""
    from starlette.testclient import TestClient

    def make(username: str | None = None, **kwargs: Any) -> Any:
        client = TestClient(desk_app, **kwargs)
        if username:
            response = sign_in(client, username)
            assert response.status_code == 303, response.text[:500]
        return client

    return make


@pytest.fixture
def db(desk_world: dict[str, Any]) -> Iterator[Any]:
    """A read-write connection for assertions; closed before the next request (DuckDB lock)."""
    from desk.db import session

    def run(sql: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with session(desk_world["config"], write=True) as engine:
            return engine.query_dicts(sql, params)

    yield run


ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "desk"
