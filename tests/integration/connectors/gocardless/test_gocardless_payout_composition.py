"""Every GoCardless payout of the sample world is its composition, even where payout items answer 410.

The sample world has chargebacks clawed back from a payout later than the one the payment was
paid into. For payouts older than six months the items are gone (410), so the composition comes
from events: ``paid_out`` and ``chargeback_settled`` name the payout they moved money in or out
of. A fresh sync of the whole history, on DuckDB and Postgres, must leave no payout whose
composition misses its amount, and reconciliation must raise no ``payout_mismatch`` for them;
a payout whose composition truly misses a line must still be one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.gocardless import gocardless_source
from lettrage.config import WarehouseConfig
from sandbox.server import RunningSandbox, serve
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile

from .conftest import FAST_RETRIES

AS_OF = date(2026, 11, 20)  # the e2e sample world's date, so this is the world the nightly run sees
SIX_MONTHS_S = 183 * 86400

COMPOSITION = """
SELECT p.payout_id, p.amount, sum(c.amount - c.fee) AS composed, min(c.provenance) AS provenance,
       count(DISTINCT c.provenance) AS provenances
FROM fct_payout AS p JOIN fct_payout_component AS c ON c.entity = p.entity AND c.payout_id = p.payout_id
WHERE p.source_system = 'gocardless'
GROUP BY p.payout_id, p.amount
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    from sandbox.world import write_world

    root = tmp_path_factory.mktemp("sample_world")
    write_world(root, seed=7, size="small", as_of=AS_OF)
    meta = json.loads((root / "world.json").read_text(encoding="utf-8"))
    return root, {**meta, "_root": str(root)}


@pytest.fixture(scope="module")
def sandbox(world: tuple[Path, dict[str, Any]]) -> Iterator[RunningSandbox]:
    with serve(world[0]) as running:
        yield running


def gocardless_entities(world: dict[str, Any]) -> list[tuple[str, str]]:
    """Entities that collect through GoCardless in the world (a directory of their objects)."""
    root = Path(world["_root"])
    return [
        (e["code"], e["gocardless"]["access_token"])
        for e in world["entities"]
        if (root / e["code"] / "gocardless").exists()
    ]


def world_rows(root: Path, entity: str, kind: str) -> list[dict[str, Any]]:
    path = root / entity / "gocardless" / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def clawed_back_from_an_old_payout(root: Path, world: dict[str, Any]) -> set[str]:
    """Payouts past the 410 horizon holding a chargeback of a payment paid out in another payout."""
    horizon = datetime.combine(AS_OF, datetime.max.time(), UTC).timestamp() - SIX_MONTHS_S
    found = set()
    for code, _token in gocardless_entities(world):
        old = {
            p["id"]
            for p in world_rows(root, code, "payouts")
            if datetime.fromisoformat(p["created_at"]).timestamp() < horizon
        }
        found |= {
            i["_payout"]
            for i in world_rows(root, code, "payout_items")
            if i["type"] == "payment_charged_back" and i["_payout"] in old
        }
    return found


def sync_and_build(sandbox: RunningSandbox, world: dict[str, Any], engine_config: WarehouseConfig) -> None:
    for code, token in gocardless_entities(world):
        source = gocardless_source(
            code, access_token=token, base_url=sandbox.gocardless_base, retry_policy=FAST_RETRIES
        )
        run_pipeline(f"gocardless_{code}", source, engine_config)
    with connect(engine_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))


def payout_mismatches(engine: Engine) -> dict[str, Decimal]:
    reconcile(engine, as_of=AS_OF)
    return {
        str(p): Decimal(a)
        for p, a in engine.query(
            "SELECT payout_id, amount FROM fct_reconciliation_exception WHERE kind = 'payout_mismatch'"
        )
    }


def test_every_payout_is_its_composition_and_raises_no_mismatch(
    sandbox: RunningSandbox, world: tuple[Path, dict[str, Any]], warehouse_config: WarehouseConfig
) -> None:
    root, meta = world
    clawed = clawed_back_from_an_old_payout(root, meta)
    assert clawed, "the sample world should hold a chargeback settled in a payout past the 410 horizon"
    sync_and_build(sandbox, meta, warehouse_config)
    with connect(warehouse_config) as engine:
        payouts = {r["payout_id"]: r for r in engine.query_dicts(COMPOSITION)}
        clawback_lines = engine.query_dicts(
            "SELECT payout_id, payment_id, amount, provenance, source_id FROM fct_payout_component "
            "WHERE kind = 'payment_charged_back'"
        )
        mismatches = payout_mismatches(engine)
    world_payouts = {
        p["id"] for code, _t in gocardless_entities(meta) for p in world_rows(root, code, "payouts")
    }
    assert set(payouts) == world_payouts  # every payout has a composition
    assert [p for p in payouts.values() if p["composed"] != p["amount"]] == []
    assert all(p["provenances"] == 1 for p in payouts.values())  # one payout, one way of knowing
    assert {p["provenance"] for p in payouts.values()} == {"payout_items", "events"}
    assert {r["payout_id"] for r in clawback_lines if r["provenance"] == "events"} == clawed
    assert all(
        r["amount"] < 0 and str(r["source_id"]).startswith("EV")
        for r in clawback_lines
        if r["provenance"] == "events"
    )
    assert not set(mismatches)


def test_a_payout_missing_a_settled_event_is_still_a_mismatch(
    tmp_path: Path, world: tuple[Path, dict[str, Any]], warehouse_config: WarehouseConfig
) -> None:
    """Drop one chargeback_settled event: that payout no longer adds up and must reach a person."""
    import shutil

    root = tmp_path / "world"
    shutil.copytree(world[0], root)
    meta = world[1]
    victim = None
    for code, _token in gocardless_entities(meta):
        events = world_rows(root, code, "events")
        settled = [
            e
            for e in events
            if e["action"] == "chargeback_settled"
            and e["links"]["payout"] in clawed_back_from_an_old_payout(root, meta)
        ]
        if settled:
            victim = settled[0]
            kept = [e for e in events if e["id"] != victim["id"]]
            (root / code / "gocardless" / "events.jsonl").write_text(
                "".join(json.dumps(e) + "\n" for e in kept), encoding="utf-8"
            )
            break
    assert victim is not None
    payment = next(
        p
        for code, _t in gocardless_entities(meta)
        for p in world_rows(root, code, "payments")
        if p["id"] == victim["links"]["payment"]
    )
    with serve(root) as sandbox:
        sync_and_build(sandbox, meta, warehouse_config)
    with connect(warehouse_config) as engine:
        mismatches = payout_mismatches(engine)
    # the payout is short of the chargeback it absorbed: it was paid that much less than composed
    assert mismatches == {victim["links"]["payout"]: -Decimal(payment["amount"]) / 100}
