"""A failed payout through the official SDK against the sandbox: its composition is loaded, and so is the line of
the later payout that sent its money again; incremental runs add that line without duplicating anything.

The tiny world's failed payout is Stripe's behaviour for automatic payouts: ``GET /v1/balance_transactions
?payout=<failed payout>`` lists the charges it swept, and the money it returned to the balance is one
``payout_failure`` transaction (reporting category ``payout_reversal``, ``source`` the failed payout) that the next
payout lists.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from lettrage.config import WarehouseConfig
from sandbox.server import RunningSandbox, serve
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.load import run_pipeline

from .test_stripe_sync import source, world_rows

AS_OF = date(2026, 1, 31)
TABLES = ("raw_stripe_charges", "raw_stripe_payouts", "raw_stripe_balance_transactions")


def failed_payout(root: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The world's failed payout, the payout_failure transaction returning its money, the payout that swept it."""
    failed = next(p for p in world_rows(root, "payouts") if p["status"] == "failed")
    returned = next(b for b in world_rows(root, "balance_transactions") if b["type"] == "payout_failure")
    resent = next(p for p in world_rows(root, "payouts") if p["id"] == returned["_payout"])
    assert returned["source"] == failed["id"] and returned["amount"] == failed["amount"]
    return failed, returned, resent


def world_until(root: Path, dest: Path, cutoff: int) -> Path:
    """The world as Stripe showed it before ``cutoff``: objects created since are not there yet, and a balance
    transaction swept by a payout not made yet is in none."""
    shutil.copytree(root, dest)
    folder = dest / "FR01" / "stripe"
    kept = {p["id"] for p in world_rows(root, "payouts") if p["created"] < cutoff}
    for path in folder.glob("*.jsonl"):
        rows = [r for r in world_rows(root, path.stem) if r["created"] < cutoff]
        for row in rows:
            if row.get("_payout") not in (None, *kept):
                del row["_payout"]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return dest


def counts(engine: Engine) -> dict[str, tuple[int, int]]:
    """Rows and distinct ids of each table: equal when nothing was loaded twice."""
    return {t: tuple(engine.query(f"SELECT count(*), count(DISTINCT id) FROM {t}")[0]) for t in TABLES}


@contextmanager
def built(config: WarehouseConfig) -> Iterator[Engine]:
    """The warehouse with staging and core built from what the syncs loaded."""
    with connect(config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        yield engine


def test_a_failed_payouts_charges_fees_and_resend_are_loaded_and_built(
    stripe_sandbox: RunningSandbox, stripe_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    root = stripe_world[0]
    failed, returned, resent = failed_payout(root)
    swept = [b for b in world_rows(root, "balance_transactions")
             if b.get("_payout") == failed["id"] and b["type"] == "charge"]
    assert swept  # the world's failed payout swept charges
    run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    with connect(warehouse_config) as engine:
        raw = dict(engine.query(
            "SELECT id, payout FROM raw_stripe_balance_transactions WHERE payout IN (:failed, :resent) "
            "OR source = :failed", {"failed": failed["id"], "resent": resent["id"]}))
        before = counts(engine)
    assert {b["id"] for b in swept} <= set(raw) and all(raw[b["id"]] == failed["id"] for b in swept)
    assert raw[returned["id"]] == resent["id"]

    again = run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    assert again.total_rows == 0
    with built(warehouse_config) as engine:
        assert counts(engine) == before
        payments = {r[0]: r[1:] for r in engine.query(
            "SELECT payment_id, payout_id, fee, banked_payout_id FROM fct_payment WHERE payout_id = :po",
            {"po": failed["id"]})}
        payout = engine.query("SELECT status, fees FROM fct_payout WHERE payout_id = :po", {"po": failed["id"]})
        composition = engine.query(
            "SELECT payout_id, kind, amount, failed_payout_id FROM fct_payout_component WHERE component_id = :txn",
            {"txn": returned["id"]})
    assert payments == {b["source"]: (failed["id"], Decimal(b["fee"]) / 100, resent["id"]) for b in swept}
    assert payout == [("failed", sum(Decimal(b["fee"]) for b in swept) / 100)]
    assert composition == [(resent["id"], "payout_reversal", Decimal(failed["amount"]) / 100, failed["id"])]


def _failed_payout_seen(engine: Any, payout_id: str, returned_txn: str) -> tuple[list[Any], list[Any], list[Any]]:
    """Where the failed payout's charges' money was banked, how many balance transactions it lists, and which
    payout holds the payout_failure transaction that returned its money (none while it is not loaded)."""
    banked = engine.query("SELECT DISTINCT banked_payout_id FROM fct_payment WHERE payout_id = :po", {"po": payout_id})
    swept = engine.query("SELECT count(*) FROM raw_stripe_balance_transactions WHERE payout = :po", {"po": payout_id})
    holder = engine.query("SELECT payout FROM raw_stripe_balance_transactions WHERE id = :txn", {"txn": returned_txn})
    return banked, swept, holder


def test_the_resend_of_a_payout_listed_failed_arrives_in_a_later_sync_without_duplicates(
    stripe_world: tuple[Path, dict], warehouse_config: WarehouseConfig, tmp_path: Path
) -> None:
    """Night 1: the payout is listed failed, its money back in the balance. Night 2: the payout that sent it again
    exists. The second sync loads that payout and its payout_failure line from the cursor on; the failed payout's
    composition is not loaded twice, and the charges' money is banked once the re-send exists."""
    root = stripe_world[0]
    failed, returned, resent = failed_payout(root)
    night_1 = world_until(root, tmp_path / "night_1", resent["created"])

    with serve(night_1) as sandbox:
        run_pipeline("stripe_FR01", source(sandbox), warehouse_config)
    with built(warehouse_config) as engine:
        first = counts(engine)
        banked_1, swept_1, returned_1 = _failed_payout_seen(engine, failed["id"], returned["id"])

    with serve(root) as sandbox:
        second = run_pipeline("stripe_FR01", source(sandbox), warehouse_config)
        third = run_pipeline("stripe_FR01", source(sandbox), warehouse_config)
    with built(warehouse_config) as engine:
        last = counts(engine)
        banked_2, swept_2, returned_2 = _failed_payout_seen(engine, failed["id"], returned["id"])

    assert banked_1 == [(None,)] and returned_1 == []  # night 1: the money is back in the balance
    assert second.total_rows > 0 and third.total_rows == 0
    assert swept_2 == swept_1
    assert returned_2 == [(resent["id"],)] and banked_2 == [(resent["id"],)]
    assert all(rows == ids for rows, ids in last.values())  # every id once
    assert last["raw_stripe_payouts"][0] == len(world_rows(root, "payouts")) > first["raw_stripe_payouts"][0]
