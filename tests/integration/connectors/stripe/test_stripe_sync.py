"""The Stripe source, through the official SDK, against the local sandbox, into both warehouse engines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from connectors.stripe import stripe_source
from lettrage.config import WarehouseConfig
from lettrage.errors import AuthenticationExpired
from lettrage.logging import install_masking
from sandbox.server import RunningSandbox
from warehouse.engine import connect
from warehouse.load import make_pipeline, run_pipeline

from .conftest import FAST_RETRIES

KEY = "sk_test_sandbox_FR01"
RELIED_ON = {
    "raw_stripe_charges": (
        "id entity amount amount_refunded currency created customer description status paid refunded "
        "disputed balance_transaction payment_intent failure_code billing_details__name "
        "metadata__invoice_number metadata__erp_customer_id"
    ),
    "raw_stripe_payouts": (
        "id entity amount currency arrival_date created status statement_descriptor balance_transaction"
    ),
    "raw_stripe_balance_transactions": (
        "id entity payout amount fee net currency created available_on reporting_category type source status"
    ),
    "raw_stripe_refunds": "id entity amount currency charge created status reason",
    "raw_stripe_disputes": "id entity amount currency charge created status reason",
    "raw_stripe_customers": "id entity email name metadata__erp_customer_id",
}


def world_rows(root: Path, kind: str, entity: str = "FR01") -> list[dict]:
    path = root / entity / "stripe" / f"{kind}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def expected_ids(root: Path) -> dict[str, set[str]]:
    ids = {
        f"raw_stripe_{k}": {r["id"] for r in world_rows(root, k)}
        for k in ("charges", "payouts", "refunds", "disputes", "customers")
    }
    ids["raw_stripe_balance_transactions"] = {
        r["id"] for r in world_rows(root, "balance_transactions") if r.get("_payout")
    }
    return ids


def loaded_ids(config: WarehouseConfig) -> dict[str, list[str]]:
    with connect(config) as engine:
        return {t: sorted(str(r[0]) for r in engine.query(f"SELECT id FROM {t}")) for t in RELIED_ON}


def source(sandbox: RunningSandbox, **kw: object) -> object:
    return stripe_source(
        "FR01", api_key=kw.pop("api_key", KEY), base_url=sandbox.stripe_base, retry_policy=FAST_RETRIES, **kw
    )


def test_sync_loads_every_resource_with_the_contract_columns(
    stripe_sandbox: RunningSandbox, stripe_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    root = stripe_world[0]
    result = run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    assert result.rows["raw_stripe_charges"] > 0  # (counts are approximate with Postgres' csv loader files)
    with connect(warehouse_config) as engine:
        for table, cols in RELIED_ON.items():
            missing = set(cols.split()) - set(engine.columns(table))
            assert not missing, f"{table} lacks {missing}"
        assert engine.query("SELECT DISTINCT entity FROM raw_stripe_charges") == [("FR01",)]
        payout_of = dict(engine.query("SELECT id, payout FROM raw_stripe_balance_transactions"))
        failed = engine.query_dicts(
            "SELECT failure_code, paid FROM raw_stripe_charges WHERE status = 'failed'"
        )
    ids = loaded_ids(warehouse_config)
    for table, want in expected_ids(root).items():
        assert ids[table] == sorted(want), table  # same ids, none twice
    assert payout_of == {
        r["id"]: r["_payout"] for r in world_rows(root, "balance_transactions") if r.get("_payout")
    }
    assert failed and all(f["failure_code"] == "card_declined" and f["paid"] is False for f in failed)
    again = run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    assert again.total_rows == 0  # the saved cursor skips everything already loaded


def test_sync_survives_rate_limits_server_errors_and_a_dropped_connection(
    stripe_sandbox: RunningSandbox, stripe_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    stripe_sandbox.faults.set(
        provider="stripe",
        rate_limit=3,
        retry_after=0.02,
        server_error=2,
        server_error_status=503,
        drop_on=[7],
    )
    run_pipeline("stripe_FR01", source(stripe_sandbox, page_size=10), warehouse_config)
    assert stripe_sandbox.faults.snapshot()["injected"] == {"rate_limit": 3, "server_error": 2, "drop": 1}
    ids = loaded_ids(warehouse_config)
    for table, want in expected_ids(stripe_world[0]).items():
        assert ids[table] == sorted(want), table


def test_expired_key_fails_clearly_and_saves_no_cursor(
    stripe_sandbox: RunningSandbox, stripe_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    stripe_sandbox.faults.set(revoked=[KEY])
    before = stripe_sandbox.faults.snapshot()["requests"]["stripe"]
    with pytest.raises(PipelineStepFailed) as failure:
        run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    chain, exc = [], failure.value
    while exc is not None:
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    auth = [e for e in chain if isinstance(e, AuthenticationExpired)]
    assert auth and "secrets.toml" in str(auth[0]) and KEY not in str(auth[0])
    assert stripe_sandbox.faults.snapshot()["requests"]["stripe"] - before <= 2  # never retried
    pipeline = make_pipeline("stripe_FR01", warehouse_config)
    assert "incremental" not in json.dumps(pipeline.state.get("sources", {}))
    with connect(warehouse_config) as engine:
        assert not engine.table_exists("raw_stripe_charges")
    stripe_sandbox.faults.clear()
    run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    assert len(loaded_ids(warehouse_config)["raw_stripe_charges"]) == 60


def test_backfill_window_loads_only_that_window_and_keeps_no_cursor(
    stripe_sandbox: RunningSandbox, stripe_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    charges = sorted(world_rows(stripe_world[0], "charges"), key=lambda r: r["created"])
    lo, hi = charges[10]["created"], charges[30]["created"]
    run_pipeline(
        "stripe_FR01", source(stripe_sandbox, start_date=lo, end_date=hi, with_events=False), warehouse_config
    )
    with connect(warehouse_config) as engine:
        got = sorted(r[0] for r in engine.query("SELECT id FROM raw_stripe_charges"))
    assert got == sorted(c["id"] for c in charges if lo <= c["created"] < hi)
    pipeline = make_pipeline("stripe_FR01", warehouse_config)
    assert "last_value" not in json.dumps(pipeline.state.get("sources", {}), default=str)  # no cursor saved
    run_pipeline("stripe_FR01", source(stripe_sandbox, start_date=lo), warehouse_config)
    with connect(warehouse_config) as engine:
        got = sorted(r[0] for r in engine.query("SELECT id FROM raw_stripe_charges"))
    assert got == sorted(c["id"] for c in charges if lo <= c["created"])


def test_api_key_never_reaches_the_logs(
    stripe_sandbox: RunningSandbox, warehouse_config: WarehouseConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    install_masking()
    stripe_sandbox.faults.set(provider="stripe", rate_limit=2, retry_after=0.01)
    run_pipeline("stripe_FR01", source(stripe_sandbox, with_events=False), warehouse_config)
    logging.getLogger("lettrage.connectors.stripe").warning("diagnostic with key %s", KEY)
    stripe_sandbox.faults.set(revoked=[KEY])
    with pytest.raises(PipelineStepFailed):
        run_pipeline("stripe_FR01", source(stripe_sandbox, start_date="2020-01-02"), warehouse_config)
    assert "retry 1" in caplog.text  # the retries were logged …
    assert "diagnostic with key ***" in caplog.text
    assert KEY not in caplog.text  # … without the key


def test_an_empty_account_still_gets_every_table_with_its_columns(
    stripe_sandbox: RunningSandbox, warehouse_config: WarehouseConfig
) -> None:
    run_pipeline(
        "stripe_FR01",
        source(stripe_sandbox, start_date="2001-01-01", end_date="2001-02-01"),
        warehouse_config,
    )
    with connect(warehouse_config) as engine:
        for table, cols in RELIED_ON.items():
            assert set(cols.split()) <= set(engine.columns(table)), table
            assert engine.query(f"SELECT count(*) FROM {table}") == [(0,)]


def test_arrow_loads_carry_dlt_lineage_and_fit_a_warehouse_first_loaded_from_dicts(
    stripe_sandbox: RunningSandbox, stripe_world: tuple[Path, dict], warehouse_config: WarehouseConfig
) -> None:
    """Before pages became Arrow tables, dlt normalized dicts: _dlt_load_id and _dlt_id NOT NULL.

    A warehouse loaded that way must take Arrow loads, the rows must carry the load id
    (warehouse.freshness reads it), and a later run with nothing new (dlt's empty-table
    marker, normalized as dicts) must not clash with the Arrow-made columns.
    """
    import dlt

    old = world_rows(stripe_world[0], "charges")[:3]

    @dlt.source(name="stripe", max_table_nesting=1)
    def dict_stripe() -> object:
        """The same source name, table and keys as the connector, rows as dicts: the pre-Arrow load."""
        return dlt.resource(
            [{**row, "entity": "FR01"} for row in old],
            name="charges", table_name="raw_stripe_charges", primary_key="id", write_disposition="merge",
        )

    run_pipeline("stripe_FR01", dict_stripe(), warehouse_config)
    first = run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    again = run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    with connect(warehouse_config) as engine:
        lineage = engine.query(
            "SELECT count(*), count(_dlt_load_id), count(DISTINCT _dlt_id) FROM raw_stripe_charges")[0]
        stamped = {
            str(r[0]) for r in engine.query("SELECT DISTINCT _dlt_load_id FROM raw_stripe_balance_transactions")
        }
    assert lineage == (len(world_rows(stripe_world[0], "charges")),) * 3
    assert stamped and stamped <= set(first.load_ids)
    assert again.total_rows == 0
    assert loaded_ids(warehouse_config) == {t: sorted(ids) for t, ids in expected_ids(stripe_world[0]).items()}


def test_an_account_that_cannot_list_invoices_syncs_the_rest(
    stripe_sandbox: RunningSandbox, warehouse_config: WarehouseConfig, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Invoices and PaymentIntents are read for the charges that name their invoice only there; an account whose
    key may not list them (403), or an API stand-in without them (404 here), syncs everything else, says so, and
    still gets the tables."""
    from connectors.stripe import settings

    monkeypatch.setitem(settings.ENDPOINTS, "invoices", "no_such_listing")
    with caplog.at_level(logging.WARNING):
        result = run_pipeline("stripe_FR01", source(stripe_sandbox), warehouse_config)
    assert result.rows["raw_stripe_charges"] > 0
    assert any("invoices cannot be read" in r.getMessage() for r in caplog.records)
    with connect(warehouse_config) as engine:
        assert engine.table_exists("raw_stripe_invoices")
