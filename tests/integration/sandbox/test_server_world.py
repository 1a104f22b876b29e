"""The generated sample world (``sandbox.world.write_world``), served and synced by both connectors."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors._http import RetryPolicy
from connectors.gocardless import gocardless_source
from connectors.stripe import stripe_source
from lettrage.config import WarehouseConfig
from sandbox.server import RunningSandbox, serve
from warehouse.engine import connect
from warehouse.load import run_pipeline

AS_OF = date(2026, 11, 20)
POLICY = RetryPolicy(max_total_wait=1.0, base_delay=0.01)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningSandbox]]:
    from sandbox.world import write_world

    root = tmp_path_factory.mktemp("generated_world")
    write_world(root, seed=11, size="small", as_of=AS_OF)
    with serve(root) as sandbox:
        yield root, sandbox


def jsonl(root: Path, entity: str, provider: str, kind: str) -> list[dict]:
    path = root / entity / provider / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_generated_world_syncs_completely_and_payouts_sum_their_composition(
    generated: tuple[Path, RunningSandbox], warehouse_config: WarehouseConfig
) -> None:
    root, sandbox = generated
    keys = {e["code"]: e for e in json.loads((root / "world.json").read_text(encoding="utf-8"))["entities"]}
    entity = "FR01"
    run_pipeline(
        f"stripe_{entity}",
        stripe_source(
            entity,
            api_key=keys[entity]["stripe"]["api_key"],
            base_url=sandbox.stripe_base,
            retry_policy=POLICY,
            start_date="2024-01-01",
        ),
        warehouse_config,
    )
    run_pipeline(
        f"gocardless_{entity}",
        gocardless_source(
            entity,
            access_token=keys[entity]["gocardless"]["access_token"],
            base_url=sandbox.gocardless_base,
            retry_policy=POLICY,
            start_date="2024-01-01",
        ),
        warehouse_config,
    )
    with connect(warehouse_config) as engine:
        for kind in ("charges", "payouts", "refunds", "disputes", "customers"):
            got = sorted(r[0] for r in engine.query(f"SELECT id FROM raw_stripe_{kind}"))
            assert got == sorted(o["id"] for o in jsonl(root, entity, "stripe", kind)), kind
        for kind in ("payments", "payouts", "mandates", "customers", "events"):
            got = sorted(r[0] for r in engine.query(f"SELECT id FROM raw_gocardless_{kind}"))
            assert got == sorted(o["id"] for o in jsonl(root, entity, "gocardless", kind)), kind
        stripe_payouts = dict(engine.query("SELECT id, amount FROM raw_stripe_payouts WHERE status = 'paid'"))
        composed: dict[str, int] = defaultdict(int)
        for payout, net, type_ in engine.query(
            "SELECT payout, net, type FROM raw_stripe_balance_transactions"
        ):
            if type_ != "payout":
                composed[payout] += int(net)
        gc_payouts = dict(engine.query("SELECT id, amount FROM raw_gocardless_payouts"))
        items: dict[str, Decimal] = defaultdict(Decimal)
        for payout, amount in engine.query("SELECT payout_id, amount FROM raw_gocardless_payout_items"):
            items[payout] += Decimal(amount)
    assert stripe_payouts and all(
        composed[p] == amount for p, amount in stripe_payouts.items() if p in composed
    )
    assert len(composed) >= len(stripe_payouts) * 0.9
    assert items and all(items[p] == Decimal(gc_payouts[p]) / 100 for p in items)
    six_months_ago = datetime(AS_OF.year, AS_OF.month, AS_OF.day).timestamp() - 183 * 86400
    recent = [
        p
        for p in jsonl(root, entity, "gocardless", "payouts")
        if datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")).timestamp()
        >= six_months_ago + 86400
    ]
    assert {p["id"] for p in recent} <= set(items)  # every payout still served has its items
