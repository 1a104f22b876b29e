"""The GoCardless source, through the official SDK, against the local sandbox, into both warehouse engines."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from connectors.gocardless import gocardless_source
from lettrage.config import WarehouseConfig
from lettrage.errors import AuthenticationExpired
from lettrage.logging import install_masking
from sandbox.server import RunningSandbox, serve
from warehouse.engine import connect
from warehouse.load import make_pipeline, run_pipeline

from .conftest import FAST_RETRIES

TOKEN = "sandbox_DE01_token"
SIX_MONTHS_S = 183 * 86400
RELIED_ON = {
    "raw_gocardless_payments": (
        "id entity amount amount_refunded currency charge_date created_at description reference status "
        "metadata__invoice_number metadata__erp_customer_id links__mandate links__creditor links__payout"
    ),
    "raw_gocardless_payouts": (
        "id entity amount deducted_fees currency arrival_date created_at reference status payout_type"
    ),
    "raw_gocardless_mandates": (
        "id entity reference scheme status created_at links__customer links__customer_bank_account"
    ),
    "raw_gocardless_customers": (
        "id entity email company_name given_name family_name metadata__erp_customer_id"
    ),
    "raw_gocardless_events": (
        "id entity created_at action resource_type links__payment links__payout links__mandate "
        "details__cause details__reason_code details__origin details__description"
    ),
}
ITEM_COLUMNS = "payout_id item_index entity type amount links__payment links__mandate taxes_total"


def world_rows(root: Path, kind: str) -> list[dict]:
    path = root / "DE01" / "gocardless" / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def world_as_of(root: Path) -> float:
    as_of = json.loads((root / "world.json").read_text())["as_of"]
    return datetime.fromisoformat(f"{as_of}T23:59:59+00:00").timestamp()


def served_items(root: Path) -> list[tuple[str, int, Decimal]]:
    """Payout items still served (payout created within six months), keyed as the warehouse keys them."""
    now = world_as_of(root)
    recent = {
        p["id"]
        for p in world_rows(root, "payouts")
        if datetime.fromisoformat(p["created_at"].replace("Z", "+00:00")).timestamp() >= now - SIX_MONTHS_S
    }
    counters: dict[str, int] = {}
    out = []
    for item in world_rows(root, "payout_items"):
        po = item["_payout"]
        index = counters.get(po, 0)
        counters[po] = index + 1
        if po in recent:
            out.append((po, index, Decimal(item["amount"])))
    return sorted(out)


def loaded(config: WarehouseConfig) -> dict[str, list[str]]:
    with connect(config) as engine:
        return {t: sorted(str(r[0]) for r in engine.query(f"SELECT id FROM {t}")) for t in RELIED_ON}


def loaded_items(config: WarehouseConfig) -> list[tuple[str, int, Decimal]]:
    with connect(config) as engine:
        return sorted(
            (str(p), int(i), Decimal(a))
            for p, i, a in engine.query(
                "SELECT payout_id, item_index, amount FROM raw_gocardless_payout_items"
            )
        )


def source(base: str, **kw: object) -> object:
    return gocardless_source(
        "DE01", access_token=kw.pop("access_token", TOKEN), base_url=base, retry_policy=FAST_RETRIES, **kw
    )


def assert_complete(root: Path, config: WarehouseConfig) -> None:
    ids = loaded(config)
    for table in RELIED_ON:
        kind = table.removeprefix("raw_gocardless_")
        assert ids[table] == sorted(r["id"] for r in world_rows(root, kind)), table
    assert loaded_items(config) == served_items(root)


def test_sync_loads_every_resource_with_the_contract_columns(
    gc_sandbox: RunningSandbox, gc_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    root = gc_world[0]
    run_pipeline("gocardless_DE01", source(gc_sandbox.gocardless_base, page_size=25), warehouse_config)
    with connect(warehouse_config) as engine:
        for table, cols in {**RELIED_ON, "raw_gocardless_payout_items": ITEM_COLUMNS}.items():
            missing = set(cols.split()) - set(engine.columns(table))
            assert not missing, f"{table} lacks {missing}"
        assert engine.query("SELECT DISTINCT entity FROM raw_gocardless_payments") == [("DE01",)]
        payout_links = engine.query(
            "SELECT count(*) FROM raw_gocardless_payments WHERE links__payout IS NOT NULL"
        )
    assert_complete(root, warehouse_config)
    assert payout_links[0][0] == sum(1 for p in world_rows(root, "payments") if p["links"].get("payout"))
    assert 0 < len(served_items(root)) < len(world_rows(root, "payout_items"))  # some payouts are past 410
    again = run_pipeline("gocardless_DE01", source(gc_sandbox.gocardless_base), warehouse_config)
    assert again.total_rows == 0


def test_payout_items_answering_410_keep_what_was_loaded(
    gc_sandbox: RunningSandbox,
    gc_world: tuple[Path, dict],
    warehouse_config: WarehouseConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    root = gc_world[0]
    run_pipeline("gocardless_DE01", source(gc_sandbox.gocardless_base), warehouse_config)
    before = loaded_items(warehouse_config)
    caplog.set_level(logging.INFO, logger="lettrage.connectors.gocardless")
    with serve(root, now=world_as_of(root) + 365 * 86400) as a_year_later:  # every payout now answers 410
        run_pipeline(
            "gocardless_DE01",
            source(a_year_later.gocardless_base, start_date="2020-01-01", end_date="2030-01-01"),
            warehouse_config,
        )
    assert loaded_items(warehouse_config) == before
    # a warning per page of payouts, naming how many and the first ones (INFO is not shown by `lettrage sync`)
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "410 Gone" in r.getMessage()]
    counted = sum(int(w.split("the items of ")[1].split(" ")[0]) for w in warned)
    with connect(warehouse_config) as engine:
        payouts = engine.query("SELECT count(*) FROM raw_gocardless_payouts")[0][0]
    assert counted >= payouts > len(warned) >= 1  # (every payout re-read answered 410; warned per page of them)


def test_sync_survives_rate_limits_server_errors_and_a_dropped_connection(
    gc_sandbox: RunningSandbox, gc_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    gc_sandbox.faults.set(provider="gocardless", rate_limit=2, retry_after=0.05, server_error=2, drop_on=[9])
    run_pipeline("gocardless_DE01", source(gc_sandbox.gocardless_base, page_size=20), warehouse_config)
    assert gc_sandbox.faults.snapshot()["injected"] == {"rate_limit": 2, "server_error": 2, "drop": 1}
    assert_complete(gc_world[0], warehouse_config)


def test_expired_token_fails_clearly_saves_no_cursor_and_never_logs_the_token(
    gc_sandbox: RunningSandbox,
    gc_world: tuple[Path, dict],
    warehouse_config: WarehouseConfig,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    install_masking()
    gc_sandbox.faults.set(revoked=[TOKEN])
    before = gc_sandbox.faults.snapshot()["requests"]["gocardless"]
    with pytest.raises(PipelineStepFailed) as failure:
        run_pipeline("gocardless_DE01", source(gc_sandbox.gocardless_base), warehouse_config)
    chain, exc = [], failure.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    assert any(isinstance(e, AuthenticationExpired) and "access token" in str(e) for e in chain)
    assert (
        gc_sandbox.faults.snapshot()["requests"]["gocardless"] - before <= 6
    )  # one per resource at most: no retries
    assert "last_value" not in json.dumps(
        make_pipeline("gocardless_DE01", warehouse_config).state.get("sources", {}), default=str
    )
    with connect(warehouse_config) as engine:
        assert not engine.table_exists("raw_gocardless_payments")
    logging.getLogger("lettrage.connectors.gocardless").warning("diagnostic %s", TOKEN)
    assert TOKEN not in caplog.text and "diagnostic ***" in caplog.text


CHUNKED_SYNC = textwrap.dedent("""
    import sys
    from connectors._http import RetryPolicy
    from connectors.gocardless import gocardless_source
    from warehouse.load import run_pipeline

    while True:
        result = run_pipeline("gocardless_DE01", gocardless_source("DE01", access_token=sys.argv[2],
                              base_url=sys.argv[1], page_size=10, max_pages=2,
                              retry_policy=RetryPolicy(max_total_wait=1.0)))
        print("committed", result.total_rows, flush=True)
        if result.total_rows == 0:
            break
""")


def test_killed_sync_resumes_to_the_same_warehouse_as_a_clean_run(
    gc_sandbox: RunningSandbox, gc_world: tuple[Path, dict], warehouse_config: WarehouseConfig, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHUNKED_SYNC, gc_sandbox.gocardless_base, TOKEN],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        env=dict(os.environ),
    )
    assert proc.stdout is not None
    commits = 0
    for line in proc.stdout:
        if line.startswith("committed") and int(line.split()[1]) > 0:
            commits += 1
            if commits == 2:
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with connect(warehouse_config) as engine:
        assert 0 < engine.query("SELECT count(*) FROM raw_gocardless_payments")[0][0] < 60
    runs: list[int] = []
    while not runs or runs[-1]:
        chunk = source(gc_sandbox.gocardless_base, page_size=10, max_pages=2)
        runs.append(run_pipeline("gocardless_DE01", chunk, warehouse_config).total_rows)
    assert len(runs) <= 4
    assert_complete(gc_world[0], warehouse_config)


def test_created_at_is_loaded_as_an_instant(
    gc_sandbox: RunningSandbox, gc_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    run_pipeline("gocardless_DE01", source(gc_sandbox.gocardless_base), warehouse_config)
    first = min(world_rows(gc_world[0], "payments"), key=lambda p: p["created_at"])
    with connect(warehouse_config) as engine:
        (value,) = engine.query(
            "SELECT created_at FROM raw_gocardless_payments WHERE id = :id", {"id": first["id"]}
        )[0]
    assert value.astimezone(UTC) == datetime.fromisoformat(first["created_at"].replace("Z", "+00:00"))


def test_events_bring_later_status_changes_of_old_payments(
    tmp_path: Path, gc_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    import shutil

    root = tmp_path / "world"
    shutil.copytree(gc_world[0], root)
    with serve(root) as sandbox:
        run_pipeline("gocardless_DE01", source(sandbox.gocardless_base), warehouse_config)
    payments = world_rows(root, "payments")
    victim = next(p for p in payments if p["status"] == "paid_out")
    victim["status"] = "charged_back"
    path = root / "DE01" / "gocardless"
    (path / "payments.jsonl").write_text("".join(json.dumps(p) + "\n" for p in payments))
    event = {
        "id": "EVCHARGEBACK1",
        "created_at": "2026-01-31T12:00:00.000Z",
        "action": "charged_back",
        "resource_type": "payments",
        "links": {"payment": victim["id"]},
        "details": {
            "cause": "payment_charged_back",
            "origin": "bank",
            "reason_code": "MD06",
            "description": "The customer disputed the debit.",
        },
        "metadata": {},
    }
    with (path / "events.jsonl").open("a") as fh:
        fh.write(json.dumps(event) + "\n")
    with serve(root) as sandbox:  # the next night: same payments, one old one now charged back
        run_pipeline("gocardless_DE01", source(sandbox.gocardless_base), warehouse_config)
    with connect(warehouse_config) as engine:
        status = engine.query(
            "SELECT status FROM raw_gocardless_payments WHERE id = :id", {"id": victim["id"]}
        )
        reason = engine.query(
            "SELECT details__reason_code FROM raw_gocardless_events WHERE id = 'EVCHARGEBACK1'"
        )
        count = engine.query("SELECT count(*), count(DISTINCT id) FROM raw_gocardless_payments")[0]
    assert status == [("charged_back",)] and reason == [("MD06",)]
    assert count == (len(payments), len(payments))


def test_events_bring_a_payout_first_seen_pending_to_paid(
    tmp_path: Path, gc_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    """A payout listed while ``pending`` is never listed again by its ``created_at`` cursor: the next night's
    ``payouts paid`` event re-reads it, as a fresh load would see it."""
    import shutil

    root = tmp_path / "world"
    shutil.copytree(gc_world[0], root)
    path = root / "DE01" / "gocardless"
    payouts = world_rows(root, "payouts")
    late = max(payouts, key=lambda p: p["created_at"])
    late["status"] = "pending"
    (path / "payouts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in payouts))
    with serve(root) as sandbox:
        run_pipeline("gocardless_DE01", source(sandbox.gocardless_base), warehouse_config)
    late["status"] = "paid"
    (path / "payouts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in payouts))
    event = {"id": "EVPAYOUTPAID1", "created_at": "2026-01-31T12:00:00.000Z", "action": "paid",
             "resource_type": "payouts", "links": {"payout": late["id"]},
             "details": {"cause": "payout_paid", "origin": "gocardless", "description": "Payout sent."},
             "metadata": {}}
    with (path / "events.jsonl").open("a") as fh:
        fh.write(json.dumps(event) + "\n")
    with serve(root) as sandbox:  # the next night
        run_pipeline("gocardless_DE01", source(sandbox.gocardless_base), warehouse_config)
    with connect(warehouse_config) as engine:
        status = engine.query("SELECT status FROM raw_gocardless_payouts WHERE id = :id", {"id": late["id"]})
        count = engine.query("SELECT count(*), count(DISTINCT id) FROM raw_gocardless_payouts")[0]
    assert status == [("paid",)]
    assert count == (len(payouts), len(payouts))


def test_an_empty_creditor_still_gets_every_table_with_its_columns(
    gc_sandbox: RunningSandbox, warehouse_config: WarehouseConfig
) -> None:
    run_pipeline(
        "gocardless_DE01",
        source(gc_sandbox.gocardless_base, start_date="2001-01-01", end_date="2001-02-01"),
        warehouse_config,
    )
    with connect(warehouse_config) as engine:
        for table, cols in {**RELIED_ON, "raw_gocardless_payout_items": ITEM_COLUMNS}.items():
            assert set(cols.split()) <= set(engine.columns(table)), table
            assert engine.query(f"SELECT count(*) FROM {table}") == [(0,)]
