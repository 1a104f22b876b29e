"""Decisions survive a full re-sync and re-reconciliation, and the audit view tells the whole story.

FR01 of a small sample world, its file sources (FEC and camt.053) loaded through the
real connectors, on DuckDB and Postgres. "Full re-sync" means every table the
pipelines and the build write is dropped, dlt's state with it, and everything is
loaded and rebuilt from the files; only what people and actions wrote is kept.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from lettrage.config import WarehouseConfig
from warehouse.access import invoice_history, render_history
from warehouse.engine import Engine, connect
from warehouse.reconcile import confirm_match, record_decision

from .conftest import sync_and_build

ENTITY = "FR01"
SOURCES = ["sage_fec", "camt053"]
# What people and the actions wrote: never rebuilt, so a re-sync must leave it alone.
KEEP = {"decision", "payer_alias", "fct_dunning_action", "fct_factoring_assignment"}


def _sync_and_build(world: Path, pipelines_dir: Path, monkeypatch: pytest.MonkeyPatch, config: WarehouseConfig) -> None:
    sync_and_build(world, pipelines_dir, monkeypatch, config, [ENTITY], SOURCES)


def _drop_all_but_kept(engine: Engine) -> list[str]:
    tables = [str(r[0]) for r in engine.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type = 'BASE TABLE'",
        {"s": engine.dataset})]
    dropped = sorted(t for t in tables if t not in KEEP)
    for table in dropped:
        engine.execute(f'DROP TABLE IF EXISTS "{table}" CASCADE')
    return dropped


def test_a_decision_survives_a_full_resync_and_the_audit_view_tells_the_whole_story(
        world: Path, warehouse_config: WarehouseConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from actions.dunning.schema import ensure_dunning_tables

    _sync_and_build(world, tmp_path / "dlt1", monkeypatch, warehouse_config)
    with connect(warehouse_config) as engine:
        pick = engine.query_dicts(
            "SELECT m.match_id, m.payment_id, m.invoice_id, m.state FROM fct_match AS m "
            "JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
            "WHERE m.entity = :e AND m.state = 'auto' AND i.doc_type = 'invoice' ORDER BY m.match_id LIMIT 1",
            {"e": ENTITY})[0]
        other = engine.query_dicts(
            "SELECT invoice_id FROM fct_invoice WHERE entity = :e AND doc_type = 'invoice' AND status = 'overdue' "
            "ORDER BY invoice_id LIMIT 1", {"e": ENTITY})[0]["invoice_id"]
        confirmed = confirm_match(engine, pick["match_id"], actor="claire", reason="remittance checked")
        disputed = record_decision(engine, entity=ENTITY, kind="dispute", actor="marc", invoice_id=other,
                                   reason="customer contests delivery", before={"disputed": False},
                                   after={"disputed": True})
        # what the actions write for the same invoice (their own tests cover how)
        ensure_dunning_tables(engine)
        engine.execute("INSERT INTO fct_dunning_action (entity, invoice_id, step, channel, planned_on, sent_at, outcome, "
                       "source_system, source_id) VALUES (:e, :i, 'reminder', 'email', :d, :t, 'sent', 'lettrage', 'm1')",
                       {"e": ENTITY, "i": other, "d": date(2026, 11, 2), "t": datetime(2026, 11, 2, 9, tzinfo=UTC)})
        engine.execute("INSERT INTO fct_factoring_assignment (entity, invoice_id, batch_id, factor, assigned_on, amount, "
                       "currency, advance_rate, advance_amount, status) VALUES (:e, :i, 'B1', 'bpifrance', :d, 100, "
                       "'EUR', 0.9, 90, 'assigned')", {"e": ENTITY, "i": pick["invoice_id"], "d": date(2026, 10, 1)})
        assert engine.query("SELECT disputed FROM fct_invoice WHERE entity = :e AND invoice_id = :i",
                            {"e": ENTITY, "i": other})[0][0] is not True  # takes effect on the next reconciliation
        dropped = _drop_all_but_kept(engine)
    assert {"fct_match", "fct_invoice", "int_invoices", "reconcile_run"} <= set(dropped)
    assert any(t.startswith("raw_sage_fec") for t in dropped) and any(t.startswith("_dlt") for t in dropped)

    _sync_and_build(world, tmp_path / "dlt2", monkeypatch, warehouse_config)  # a fresh dlt state: everything again

    with connect(warehouse_config) as engine:
        decisions = engine.query_dicts("SELECT id, kind, actor FROM decision ORDER BY created_at")
        assert [(d["id"], d["kind"], d["actor"]) for d in decisions] == [
            (confirmed.id, "confirm_match", "claire"), (disputed.id, "dispute", "marc")]
        state = engine.query("SELECT state FROM fct_match WHERE entity = :e AND payment_id = :p AND invoice_id = :i",
                             {"e": ENTITY, "p": pick["payment_id"], "i": pick["invoice_id"]})
        assert [s[0] for s in state] == ["confirmed"]
        inv = engine.query_dicts("SELECT status, disputed FROM fct_invoice WHERE entity = :e AND invoice_id = :i",
                                 {"e": ENTITY, "i": other})[0]
        assert inv["disputed"] is True and inv["status"] == "disputed"

        story = invoice_history(engine, ENTITY, pick["invoice_id"])
        disputed_story = invoice_history(engine, ENTITY, other)
    kinds = [e.kind for e in story]
    assert kinds[0] == "issued" and kinds[-1] == "status"
    assert {"erp_line", "payment", "match", "decision", "factoring"} <= set(kinds)
    assert [e.at for e in story] == sorted(e.at for e in story)
    assert kinds.index("payment") < kinds.index("match") < kinds.index("decision")
    decision = next(e for e in story if e.kind == "decision")
    assert decision.actor == "claire" and "state: auto -> confirmed" in decision.summary
    match = next(e for e in story if e.kind == "match")
    assert match.detail["state"] == "confirmed" and match.detail["rule"] and match.detail["explanation"]
    assert all(e.source_id for e in story if e.kind in ("erp_line", "payment"))
    assert next(e for e in story if e.kind == "status").detail["status"] in ("paid", "partially_paid", "factored")
    print("\n".join(render_history(story)))
    text = "\n".join(render_history(disputed_story))
    assert "dispute by marc (customer contests delivery)" in text and "reminder reminder sent by email" in text
    assert "now disputed" in text


def test_the_audit_view_names_an_unknown_invoice(warehouse_config: WarehouseConfig) -> None:
    from lettrage.errors import DataError
    from warehouse.schema import ensure_contract

    with connect(warehouse_config) as engine:
        ensure_contract(engine)
        with pytest.raises(DataError, match="no invoice 'nope' of entity FR01"):
            invoice_history(engine, "FR01", "nope")
