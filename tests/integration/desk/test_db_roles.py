"""The database, not only the page, enforces a desk user's scope (Postgres row-level security).

Each test gets its own access prefix (roles are cluster-wide) and drops every role it made.
A FR01 reader's desk session asks for DE01 rows directly, without any page check in the
way, and gets none; the same questions on the desk's own login see both entities.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from desk import queries
from desk.db import acting_role, db_role_name, service, session
from desk.users import Principal, add_user
from lettrage.config import WarehouseConfig
from tests.integration.desk.conftest import csrf_of, settle
from tests.integration.reconcile.conftest import AS_OF, Book, open_book
from warehouse.engine import connect

PASSWORD = "correct horse battery"
USERS = {"fr_reader": ("reader", ["FR01"]), "fr_rev": ("reviewer", ["FR01"]), "boss": ("admin", ["*"])}


def _book(engine: Any, entity: str) -> Book:
    b = Book(engine, entity)
    b.customer("C1", f"ACME {entity}", f"FR76300060000112345678901{len(entity)}")
    b.invoice(f"{entity}-I1", "200.00")
    b.invoice(f"{entity}-I2", "200.00")
    b.payment(f"{entity}-P1", "200.00", "x", payer_iban=f"FR76300060000112345678901{len(entity)}")
    return b


@pytest.fixture
def pg_world(warehouse_config: WarehouseConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[WarehouseConfig]:
    """Two entities with a suggested match each, access roles under a unique prefix, three desk users."""
    if warehouse_config.engine != "postgres":
        pytest.skip("row-level security is Postgres-only")
    from warehouse.access import RoleNames, drop_access, init_access

    tag = f"dk{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LETTRAGE__ACCESS_PREFIX", tag)
    roles = RoleNames(tag)
    with open_book(warehouse_config) as book:
        engine = book.engine
        for entity in ("FR01", "DE01"):
            _book(engine, entity)
        settle(book)
        try:
            init_access(engine, roles)
            for name, (role, scope) in USERS.items():  # add_user creates each user's Postgres role
                add_user(engine, name, role=role, entities=scope, password=PASSWORD)
            yield warehouse_config
        finally:
            drop_access(engine, roles, [db_role_name(tag, u) for u in USERS])


def _principal(name: str) -> Principal:
    role, scope = USERS[name]
    return Principal(name, role, tuple(scope))


def test_a_fr01_readers_session_cannot_read_de01_rows_even_when_asked(pg_world: WarehouseConfig) -> None:
    with session(pg_world, principal=_principal("fr_reader")) as engine:
        assert acting_role(engine) is not None
        assert str(engine.query("SELECT current_user")[0][0]) == acting_role(engine)
        # the page code asks for DE01 explicitly: the database answers with nothing
        assert engine.query("SELECT count(*) FROM fct_invoice WHERE entity = 'DE01'")[0][0] == 0
        assert queries.queue(engine, ["FR01", "DE01"], on=AS_OF) and all(
            r["entity"] == "FR01" for r in queries.queue(engine, ["FR01", "DE01"], on=AS_OF))
        assert queries.invoice(engine, "DE01", "DE01-I1") is None
        assert queries.encours_total(engine, "DE01") == {}
        assert queries.entities(engine) == ["FR01"]
        assert queries.encours_total(engine, "FR01")["EUR"] > Decimal(0)
        # a reader may not read the decision log at all (warehouse.access: reviewers and up)
        assert not engine.table_exists("decision")
        with service(engine):  # the desk's own login, for its own tables, sees everything
            assert engine.query("SELECT count(*) FROM fct_invoice WHERE entity = 'DE01'")[0][0] == 2
        assert engine.query("SELECT count(*) FROM fct_invoice WHERE entity = 'DE01'")[0][0] == 0
    with session(pg_world, principal=_principal("boss")) as engine:
        assert queries.entities(engine) == ["DE01", "FR01"]
    with session(pg_world) as engine:  # no principal: the desk's login (sign-in, user lookup)
        assert acting_role(engine) is None


def test_a_narrowed_scope_takes_effect_in_the_database_at_once(pg_world: WarehouseConfig) -> None:
    with connect(pg_world) as engine:
        add_user(engine, "fr_rev", role="reviewer", entities=["DE01"], password=None, keep_password=True)
    with session(pg_world, principal=Principal("fr_rev", "reviewer", ("DE01",))) as engine:
        assert queries.entities(engine) == ["DE01"]
        assert queries.invoice(engine, "FR01", "FR01-I1") is None
        assert engine.table_exists("decision")  # a reviewer reads the decision log of its entities


def test_desk_pages_on_postgres_act_as_the_user(pg_world: WarehouseConfig) -> None:
    from starlette.testclient import TestClient

    from desk import DeskSettings, create_app

    app = create_app(DeskSettings(warehouse=pg_world, secret="test-secret-" + "x" * 24))
    reader = TestClient(app)
    token = csrf_of(reader.get("/login").text)
    r = reader.post("/login", data={"username": "fr_reader", "password": PASSWORD, "csrf": token, "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303
    page = reader.get("/e/FR01")
    assert page.status_code == 200 and "DE01" not in page.text
    assert reader.get("/e/DE01").status_code == 404
    queue = reader.get("/queue")
    assert queue.status_code == 200 and "DE01" not in queue.text
    inv = reader.get("/e/FR01/invoice/FR01-I1")
    assert inv.status_code == 200 and "FR01-I1" in inv.text

    rev = TestClient(app)
    token = csrf_of(rev.get("/login").text)
    rev.post("/login", data={"username": "fr_rev", "password": PASSWORD, "csrf": token, "next": "/"},
             follow_redirects=False)
    page = rev.get("/e/FR01/invoice/FR01-I2")
    token = csrf_of(page.text)
    r = rev.post("/e/FR01/invoice/FR01-I2/comment", data={"csrf": token, "body": "called the customer"},
                 follow_redirects=False)
    assert r.status_code == 303
    assert "called the customer" in rev.get("/e/FR01/invoice/FR01-I2").text
    r = rev.post("/e/FR01/erp", data={"csrf": token, "invoice_id": "FR01-I2", "reason": "duplicate in SAP"},
                 follow_redirects=False)
    assert r.status_code == 303
    erp = rev.get("/erp")
    assert "duplicate in SAP" in erp.text
    csv = rev.get("/erp.csv")
    assert csv.headers["content-type"].startswith("text/csv") and "duplicate in SAP" in csv.text


def test_another_warehouse_s_access_roles_do_not_make_this_desk_write_a_scope_it_lacks(pg_world: WarehouseConfig) -> None:
    """Roles are the Postgres server's, a scope table one dataset's: with another warehouse on the same server set up
    by `lettrage access init` (here pg_world's), a warehouse never set up adds desk users without database roles
    (it tried to write its missing access_entity_scope, and every add_user failed)."""
    import uuid as uuid_

    from tests.conftest import _drop_pg_schema

    other = WarehouseConfig(url=pg_world.url, dataset=f"t_{uuid_.uuid4().hex[:12]}")
    try:
        with connect(other) as engine:
            user = add_user(engine, "plain", role="reviewer", entities=["FR01"], password=PASSWORD)
            assert user.username == "plain" and not engine.table_exists("access_entity_scope")
    finally:
        _drop_pg_schema(other.dataset)
