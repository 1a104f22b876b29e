"""Log in as each role on the local Postgres and prove what it can and cannot read or write."""

from __future__ import annotations

from decimal import Decimal

import psycopg2
import pytest

from warehouse.access import apply_access, grant_user, init_access, revoke_user
from warehouse.contract import CONTRACT
from warehouse.engine import connect
from warehouse.reconcile import confirm_match, record_decision

from .conftest import PRIVATE, AccessWorld

pytestmark = [pytest.mark.postgres,
              pytest.mark.parametrize("warehouse_config", ["postgres"], indirect=True)]
CONTRACT_TABLES = [t.name for t in CONTRACT]


def _count(conn, table: str, entity: str | None = None) -> int:
    with conn.cursor() as cur:
        where = " WHERE entity = %s" if entity else ""
        cur.execute(f'SELECT count(*) FROM "{table}"{where}', (entity,) if entity else None)
        return int(cur.fetchone()[0])


def _refused(conn, sql: str, params: tuple = ()) -> str:
    with pytest.raises(psycopg2.Error) as info, conn.cursor() as cur:
        cur.execute(sql, params or None)
    return str(info.value)


def test_a_fr01_reader_gets_zero_de01_rows_from_every_contract_table_and_mart(access_world: AccessWorld) -> None:
    conn = access_world.connect_as("reader")
    try:
        for table in CONTRACT_TABLES:
            assert _count(conn, table, "DE01") == 0, table
            assert _count(conn, table) == _count(conn, table, "FR01") == 1, table
    finally:
        conn.close()
    other = access_world.connect_as("reader_de")
    try:
        assert all(_count(other, t) == _count(other, t, "DE01") == 1 for t in CONTRACT_TABLES)
    finally:
        other.close()


def test_a_reader_reads_nothing_raw_and_writes_nothing(access_world: AccessWorld) -> None:
    conn = access_world.connect_as("reader")
    try:
        for table in (*PRIVATE, "decision", "payer_alias", "dunning_outbox"):
            assert "permission denied" in _refused(conn, f'SELECT * FROM "{table}"'), table
        assert "permission denied" in _refused(
            conn, "INSERT INTO fct_invoice (entity, invoice_id) VALUES ('FR01', 'forged')")
        assert "permission denied" in _refused(conn, "UPDATE fct_invoice SET amount_open = 0")
        assert "permission denied" in _refused(conn, "DELETE FROM mart_aged_balance")
        assert "permission denied" in _refused(conn, "CREATE TABLE fct_mine (entity text)")
        # it sees its own scope row, not the others'
        with conn.cursor() as cur:
            cur.execute("SELECT role_name, entity FROM access_entity_scope")
            assert cur.fetchall() == [(access_world.users["reader"], "FR01")]
    finally:
        conn.close()


def test_a_reviewer_appends_decisions_in_its_own_name_for_its_own_entities(access_world: AccessWorld) -> None:
    me = access_world.users["reviewer"]
    engine = access_world.engine_as("reviewer")
    try:
        decision = confirm_match(engine, "FR01-match_id-0", actor=me, reason="remittance checked")
        record_decision(engine, entity="FR01", kind="dispute", actor=me, invoice_id="FR01-invoice_id-0",
                        amount=Decimal("10.00"))
        rows = engine.query_dicts("SELECT kind, actor FROM decision ORDER BY created_at")
        assert [(r["kind"], r["actor"]) for r in rows] == [("confirm_match", me), ("dispute", me)]
        with pytest.raises(Exception, match="row-level security"):
            record_decision(engine, entity="DE01", kind="dispute", actor=me, invoice_id="DE01-invoice_id-0")
        with pytest.raises(Exception, match="row-level security"):
            record_decision(engine, entity="FR01", kind="dispute", actor="somebody_else", invoice_id="FR01-invoice_id-0")
        with pytest.raises(Exception, match="no match"):  # DE01's match is invisible, so it cannot be confirmed
            confirm_match(engine, "DE01-match_id-1", actor=me)
        with pytest.raises(Exception, match="permission denied"):
            engine.execute("UPDATE decision SET actor = 'nobody'")
        with pytest.raises(Exception, match="permission denied"):
            engine.execute("DELETE FROM decision")
        with pytest.raises(Exception, match="permission denied"):
            engine.execute("UPDATE fct_match SET state = 'confirmed'")
        assert engine.query("SELECT count(*) FROM fct_invoice WHERE entity = 'DE01'")[0][0] == 0
        assert engine.query("SELECT count(*) FROM dunning_outbox")[0][0] == 0  # readable, nothing in it
        with pytest.raises(Exception, match="permission denied"):
            engine.query("SELECT * FROM raw_sage_fec_lines")
    finally:
        engine.close()
    assert decision.actor == me


def test_decisions_are_append_only_even_for_the_loader_and_a_superuser(
        access_world: AccessWorld, warehouse_config) -> None:
    with connect(warehouse_config) as engine:
        record_decision(engine, entity="FR01", kind="write_off", actor="ops", invoice_id="FR01-invoice_id-0")
        with pytest.raises(Exception, match="append-only"):
            engine.execute("UPDATE decision SET actor = 'someone'")
        with pytest.raises(Exception, match="append-only"):
            engine.execute("DELETE FROM decision")
    loader = access_world.connect_as("loader")
    try:
        with pytest.raises(psycopg2.Error, match="append-only|permission denied"):
            loader.cursor().execute("TRUNCATE decision")
        assert _count(loader, "decision") == 1
    finally:
        loader.close()


def test_the_loader_reads_and_rewrites_every_layer_of_every_entity(access_world: AccessWorld) -> None:
    engine = access_world.engine_as("loader")
    try:
        for table in (*CONTRACT_TABLES, *PRIVATE):
            assert engine.query(f'SELECT count(DISTINCT entity) FROM "{table}"')[0][0] == 2, table
        with engine.transaction():  # what the build does: DELETE+INSERT contract, DROP+CREATE staging
            engine.execute("DELETE FROM fct_invoice WHERE entity = 'DE01'")
            engine.execute("INSERT INTO fct_invoice (entity, invoice_id) VALUES ('DE01', 'rebuilt')")
            engine.execute('DROP TABLE "stg_sage_fec__invoices"')
            engine.execute('CREATE TABLE "stg_sage_fec__invoices" AS SELECT 1 AS one')
        assert engine.query("SELECT invoice_id FROM fct_invoice WHERE entity = 'DE01'") == [("rebuilt",)]
        assert engine.query("SELECT count(*) FROM access_entity_scope")[0][0] == 0  # a loader has no scope of its own
        with pytest.raises(Exception, match="permission denied"):
            engine.execute("INSERT INTO access_entity_scope (role_name, entity) VALUES ('x', 'FR01')")
        # the flows run apply_access as the loader at the end of a build
        engine.execute('DROP TABLE IF EXISTS "mart_factoring"')
        engine.execute("CREATE TABLE mart_factoring AS SELECT 'FR01' AS entity UNION ALL SELECT 'DE01'")
        report = apply_access(engine, access_world.roles)
        assert "mart_factoring" in report.row_level and "fct_invoice" in report.row_level and not report.warnings
        assert engine.query("SELECT current_user")[0][0] == access_world.roles.loader  # objects belong to the group
    finally:
        engine.close()
    reader = access_world.connect_as("reader")
    try:
        assert _count(reader, "mart_factoring") == 1
    finally:
        reader.close()


def test_an_admin_manages_users_and_sees_every_entity(access_world: AccessWorld) -> None:
    newcomer = f"{access_world.roles.prefix}_nina"
    engine = access_world.engine_as("admin")
    try:
        assert engine.query("SELECT count(DISTINCT entity) FROM fct_invoice")[0][0] == 2
        grant_user(engine, newcomer, "reader", ["DE01"], roles=access_world.roles)
        access_world.users["nina"] = newcomer
        conn = access_world.connect_as("nina")
        try:
            assert _count(conn, "fct_invoice", "DE01") == 1 and _count(conn, "fct_invoice", "FR01") == 0
            revoke_user(engine, newcomer, entities=["DE01"], roles=access_world.roles)
            assert _count(conn, "fct_invoice") == 0  # scope is read on every query
        finally:
            conn.close()
    finally:
        engine.close()  # the fixture drops every user of access_world.users, nina included


def test_tables_a_build_recreates_are_closed_until_apply_access_reopens_them_with_rls(
        access_world: AccessWorld, warehouse_config) -> None:
    with connect(warehouse_config) as engine:  # like actions/factoring/mart.py: DROP + CREATE AS
        engine.execute('DROP TABLE IF EXISTS "mart_factoring"')
        engine.execute("CREATE TABLE mart_factoring AS SELECT * FROM (VALUES ('FR01', 1), ('DE01', 2)) AS v(entity, n)")
        reader = access_world.connect_as("reader")
        try:
            assert "permission denied" in _refused(reader, "SELECT * FROM mart_factoring")
            report = apply_access(engine, access_world.roles)
            assert "mart_factoring" in report.row_level
            assert _count(reader, "mart_factoring") == 1 and _count(reader, "mart_factoring", "DE01") == 0
        finally:
            reader.close()
        owner = engine.query("SELECT tableowner FROM pg_tables WHERE schemaname = :s AND tablename = 'mart_factoring'",
                             {"s": warehouse_config.dataset})[0][0]
        assert owner == access_world.roles.loader  # so the next build, run by the loader, can drop it again
        again = init_access(engine, access_world.roles)  # idempotent
        assert again.tables == report.tables
        assert not [w for w in again.warnings if "dim_" in w or "fct_" in w or "mart_" in w]


def test_grant_refuses_a_reader_without_entities_and_bad_names(access_world: AccessWorld, warehouse_config) -> None:
    from warehouse.access import AccessError

    with connect(warehouse_config) as engine:
        with pytest.raises(AccessError, match="at least one --entity"):
            grant_user(engine, f"{access_world.roles.prefix}_x", "reader", [], roles=access_world.roles)
        with pytest.raises(AccessError, match="invalid user name"):
            grant_user(engine, 'bob"; DROP TABLE x; --', "reader", ["FR01"], roles=access_world.roles)
        with pytest.raises(AccessError, match="invalid entity"):
            grant_user(engine, f"{access_world.roles.prefix}_x", "reader", ["fr01'--"], roles=access_world.roles)
        with pytest.raises(AccessError, match="unknown role"):
            grant_user(engine, f"{access_world.roles.prefix}_x", "boss", ["FR01"], roles=access_world.roles)
