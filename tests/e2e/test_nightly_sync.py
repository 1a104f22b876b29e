"""The nightly flow on the sample world, through the local provider sandbox, into a fresh warehouse."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from lettrage.config import WarehouseConfig
from warehouse.engine import connect

from .conftest import E2E_AS_OF

pytestmark = pytest.mark.e2e


def _ground_truth(root: Path) -> dict[str, dict[str, Decimal]]:
    totals: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    with (root / "ground_truth" / "invoices.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            t = totals[row["entity"]]
            t["count"] += 1
            t["amount_total"] += Decimal(row["amount_total"])
            t["amount_open"] += Decimal(row["amount_open"])
    return totals


def test_nightly_sync_loads_every_source_and_builds_the_warehouse(
    prefect_harness: None, sample_world: Path, warehouse_config: WarehouseConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.nightly_sync import nightly_sync
    from sandbox.demo import write_sources_file
    from sandbox.server import serve

    world = json.loads((sample_world / "world.json").read_text(encoding="utf-8"))
    with serve(sample_world) as sandbox:
        sources_file = write_sources_file(sample_world, world, sandbox.stripe_base, sandbox.gocardless_base)
        monkeypatch.setenv("LETTRAGE__SOURCES_FILE", str(sources_file))
        state = nightly_sync(as_of=E2E_AS_OF, return_state=True)
    assert state.is_completed(), state.message
    result = state.result()
    assert result["failed"] == {}
    loaded = {(r["source"], r["entity"]): r["rows"] for r in result["loaded"]}
    configured = yaml.safe_load(sources_file.read_text(encoding="utf-8"))["entities"]
    expected_sources = {(s, e) for e, srcs in configured.items() for s in srcs}
    assert set(loaded) == expected_sources
    assert all(rows > 0 for rows in loaded.values()), loaded

    truth = _ground_truth(sample_world)
    with connect(warehouse_config) as engine:
        per_entity = {
            r["entity"]: r for r in engine.query_dicts(
                "SELECT entity, count(*) AS n, sum(amount_total) AS total FROM fct_invoice GROUP BY entity")
        }
        payouts = engine.query_dicts(
            "SELECT p.payout_id, p.amount, p.bank_line_id, sum(c.amount - c.fee) AS composed "
            "FROM fct_payout AS p LEFT JOIN fct_payout_component AS c "
            "  ON c.entity = p.entity AND c.payout_id = p.payout_id "
            "GROUP BY p.payout_id, p.amount, p.bank_line_id")
        aged_total = engine.query("SELECT coalesce(sum(amount_open), 0) FROM mart_aged_balance")[0][0]
        encours_total = engine.query("SELECT coalesce(sum(amount_open), 0) FROM mart_open_receivables")[0][0]
    for entity, t in truth.items():
        assert per_entity[entity]["n"] == t["count"], entity
        assert per_entity[entity]["total"] == t["amount_total"], entity
    assert payouts and all(p["composed"] == p["amount"] for p in payouts)
    assert aged_total == encours_total
