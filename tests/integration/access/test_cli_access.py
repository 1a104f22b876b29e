"""``lettrage access`` and ``lettrage audit`` through typer, on both engines."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
import typer
from typer.testing import CliRunner

from lettrage.cli_access import EXIT_NEEDS_POSTGRES, access_app, audit_app
from lettrage.config import WarehouseConfig
from warehouse.access import RoleNames, drop_access
from warehouse.engine import connect
from warehouse.reconcile import record_decision
from warehouse.schema import ensure_contract

runner = CliRunner()
# the mount lines of lettrage/cli.py
lettrage = typer.Typer()
lettrage.add_typer(access_app, name="access")
lettrage.add_typer(audit_app, name="audit")


@pytest.mark.parametrize("warehouse_config", ["duckdb"], indirect=True)
@pytest.mark.parametrize("args", [["init"], ["apply"], ["grant", "ann", "--role", "reader", "-e", "FR01"],
                                  ["revoke", "ann"], ["list"]], ids=["init", "apply", "grant", "revoke", "list"])
def test_on_duckdb_every_access_command_says_it_needs_postgres(warehouse_config: WarehouseConfig,
                                                               args: list[str]) -> None:
    result = runner.invoke(lettrage, ["access", *args])
    assert result.exit_code == EXIT_NEEDS_POSTGRES
    assert "access control needs Postgres" in result.output.replace("\n", " ")


@pytest.mark.parametrize("warehouse_config", ["postgres"], indirect=True)
def test_init_grant_list_revoke_on_postgres(warehouse_config: WarehouseConfig) -> None:
    prefix = f"lt{uuid.uuid4().hex[:8]}"
    user = f"{prefix}_ann"
    try:
        with connect(warehouse_config) as engine:
            ensure_contract(engine)
        first = runner.invoke(access_app, ["init", "--prefix", prefix])
        assert first.exit_code == 0, first.output
        assert "fct_invoice" in first.output and "per entity" in first.output
        assert runner.invoke(access_app, ["init", "--prefix", prefix]).exit_code == 0  # idempotent
        granted = runner.invoke(access_app, ["grant", user, "--role", "reader", "-e", "FR01", "-e", "DE01",
                                             "--prefix", prefix])
        assert granted.exit_code == 0, granted.output
        listed = runner.invoke(access_app, ["list", "--prefix", prefix])
        assert user in listed.output and f"{prefix}_reader" in listed.output and "DE01, FR01" in listed.output
        refused = runner.invoke(access_app, ["grant", user, "--role", "reader", "--prefix", prefix])
        assert refused.exit_code == 1 and "at least one --entity" in refused.output
        revoked = runner.invoke(access_app, ["revoke", user, "-e", "DE01", "--prefix", prefix])
        assert revoked.exit_code == 0
        listed = runner.invoke(access_app, ["list", "--prefix", prefix])
        assert "DE01" not in listed.output and "FR01" in listed.output
    finally:
        with connect(warehouse_config) as engine:
            drop_access(engine, RoleNames(prefix), [user])


def test_audit_invoice_prints_the_story_masked_and_names_unknown_invoices(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        ensure_contract(engine)
        engine.execute(
            "INSERT INTO fct_invoice (entity, invoice_id, invoice_number, customer_id, doc_type, issue_date, due_date, "
            "currency, amount_total, amount_open, status, source_system, source_id) VALUES ('FR01', 'I1', 'FA-1', 'C1', "
            "'invoice', :issue, :due, 'EUR', 1200, 1200, 'overdue', 'sage_fec', 'VE-1')",
            {"issue": date(2026, 1, 10), "due": date(2026, 2, 9)})
        record_decision(engine, entity="FR01", kind="dispute", actor="marc", invoice_id="I1", amount=Decimal("1200.00"),
                        reason="customer says paid from FR7630006000011234567890189")
    shown = runner.invoke(lettrage, ["audit", "invoice", "FR01", "I1"])
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines() if line.strip()]
    assert [line.split()[2] for line in lines] == ["issued", "due", "decision", "status"]
    assert "dispute by marc" in shown.output and "sage_fec:VE-1" in shown.output
    assert "FR7630006000011234567890189" not in shown.output and "0189" in shown.output
    missing = runner.invoke(lettrage, ["audit", "invoice", "FR01", "nope"])
    assert missing.exit_code == 1 and "no invoice 'nope'" in missing.output


def test_apply_access_is_a_safe_no_op_for_the_flows_on_duckdb_and_before_init(warehouse_config: WarehouseConfig) -> None:
    from warehouse.access import apply_access

    with connect(warehouse_config) as engine:
        ensure_contract(engine)
        report = apply_access(engine, RoleNames(f"lt{uuid.uuid4().hex[:8]}"))
    assert not report.tables
    expected = "access control needs Postgres" if warehouse_config.engine == "duckdb" else "run `lettrage access init`"
    assert report.skipped and expected in report.skipped
