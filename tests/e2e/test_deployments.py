"""The deployments of prefect.yaml on a real Prefect server, run by a process worker.

One module-scoped setup: the process work pool (its job variables point at the
sample world's sources file, the sandbox's secrets and a tmp DuckDB), every
deployment registered with ``prefect deploy --all``, a worker. Then two backfill
runs through the API, side by side, each into a warehouse of its own: one that
succeeds, one where Stripe's key is wrong.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from lettrage.config import WarehouseConfig
from warehouse.engine import connect

from .conftest import BIN, E2E_AS_OF, REPO, PrefectServer, _die_with_parent, stop_process_group, world_secrets

pytestmark = pytest.mark.e2e

POOL = "lettrage-process"
ENTITY = "FR01"
RUN_TIMEOUT = 240


@dataclass
class Deployed:
    server: PrefectServer
    world: Path
    base_env: dict[str, str]
    tmp: Path
    runs: dict[str, Any]
    limits_out: str


def _job_env(tmp: Path, name: str, sources_file: Path, secrets: dict[str, str]) -> dict[str, str]:
    return {"LETTRAGE_HOME": str(REPO), "LETTRAGE__SOURCES_FILE": str(sources_file),
            "LETTRAGE__WAREHOUSE_URL": f"duckdb:///{tmp / name / 'wh.duckdb'}",
            "LETTRAGE__PIPELINES_DIR": str(tmp / name / "dlt"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DLT_TELEMETRY_DISABLED": "1", "RUNTIME__DLTHUB_TELEMETRY": "false", **secrets}


async def _create_pool(env: dict[str, str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    template = ProcessWorker.get_default_base_job_template()
    template["variables"]["properties"]["env"]["default"] = env
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=POOL, type="process", base_job_template=template),
                                      overwrite=True)


def _run(cmd: list[str], env: dict[str, str], timeout: float = 120) -> str:
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


async def _submit_and_wait(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Start every run through the API (no waiting), then wait until all are final."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    ids = {}
    for name, spec in runs.items():
        flow_run = await run_deployment("backfill/backfill", parameters=spec["parameters"],
                                        job_variables=spec.get("job_variables"), timeout=0, as_subflow=False)
        ids[name] = flow_run.id
    deadline = time.monotonic() + RUN_TIMEOUT
    async with get_client() as client:
        while True:
            current = {name: await client.read_flow_run(i) for name, i in ids.items()}
            if all(r.state and r.state.is_final() for r in current.values()):
                return current
            if time.monotonic() > deadline:
                raise AssertionError(f"runs not finished after {RUN_TIMEOUT}s: "
                                     f"{ {n: r.state.name if r.state else None for n, r in current.items()} }")
            await asyncio.sleep(1)


@pytest.fixture(scope="module")
def deployed(prefect_server: PrefectServer, sample_world: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    from sandbox.demo import write_sources_file
    from sandbox.server import serve

    tmp = tmp_path_factory.mktemp("deployments")
    world = json.loads((sample_world / "world.json").read_text(encoding="utf-8"))
    with serve(sample_world) as sandbox:
        sources_file = write_sources_file(sample_world, world, sandbox.stripe_base, sandbox.gocardless_base)
        # Every source secret now in the environment: an earlier test of the session may already
        # have set the same ones, so "what changed" would hand the worker nothing.
        secrets = {k: v for k, v in os.environ.items() if k.startswith("SOURCES__")}
        base_env = _job_env(tmp, "ok", sources_file, secrets)
        asyncio.run(_create_pool(base_env))
        limits_out = _run([str(BIN / "lettrage"), "limits"], prefect_server.env)
        _run([str(BIN / "prefect"), "--no-prompt", "deploy", "--all"], prefect_server.env)
        worker_log = (tmp / "worker.log").open("wb")
        worker = subprocess.Popen(
            [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "process", "--limit", "4"],
            cwd=REPO, env=prefect_server.env, stdout=worker_log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent)
        try:
            bad_env = _job_env(tmp, "bad", sources_file, {**secrets, f"SOURCES__STRIPE__{ENTITY}__API_KEY":
                                                          "sk_test_this_key_is_wrong_000000"})
            window = {"entity": ENTITY, "start": "2025-01-01", "end": E2E_AS_OF.isoformat()}
            runs = asyncio.run(_submit_and_wait({
                "ok": {"parameters": window},
                "bad": {"parameters": window, "job_variables": {"env": bad_env}},
            }))
        finally:
            stop_process_group(worker)
            worker_log.close()
    yield Deployed(prefect_server, sample_world, base_env, tmp, runs, limits_out)


def _artifacts(flow_run_id: Any) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        return {a.key: a for a in found}

    return asyncio.run(read())


def _logs(flow_run_id: Any) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    async def read() -> list[str]:
        async with get_client() as client:
            logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                                          limit=200)
        return [log.message for log in logs]

    return asyncio.run(read())


def _table(artifact: Any) -> list[dict[str, Any]]:
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data


def test_every_deployment_of_prefect_yaml_is_registered_with_a_usable_form(deployed: Deployed) -> None:
    from prefect.client.orchestration import get_client

    names = [d["name"] for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]]

    async def read() -> dict[str, Any]:
        async with get_client() as client:
            return {d.name: d for d in await client.read_deployments()}

    deployments = asyncio.run(read())
    assert set(names) <= set(deployments)
    backfill = deployments["backfill"]
    assert backfill.work_pool_name == POOL and backfill.enforce_parameter_schema
    props = backfill.parameter_openapi_schema["properties"]
    assert props["start"]["anyOf"][0]["format"] == "date" and props["start"]["description"]
    assert ENTITY in props["entity"]["anyOf"][0]["enum"]
    nightly = deployments["nightly"]
    assert nightly.schedules and nightly.schedules[0].schedule.timezone == "Europe/Paris"


def test_backfill_deployment_runs_on_the_worker_and_fills_the_warehouse(deployed: Deployed) -> None:
    run = deployed.runs["ok"]
    assert run.state.is_completed(), run.state.message
    assert run.name == f"backfill-{ENTITY}-2025-01-01..{E2E_AS_OF}"

    artifacts = _artifacts(run.id)
    assert {"backfill-rows-loaded", "backfill-match-rate", "backfill-new-exceptions",
            "backfill-receivables"} <= set(artifacts)
    loaded = {r["source"]: r for r in _table(artifacts["backfill-rows-loaded"])}
    configured = yaml.safe_load(Path(deployed.base_env["LETTRAGE__SOURCES_FILE"]).read_text())["entities"][ENTITY]
    assert set(loaded) == {f"{s}/{ENTITY}" for s in configured}
    assert all(r["status"] == "loaded" and r["rows"] > 0 for r in loaded.values()), loaded
    (rate,) = [r for r in _table(artifacts["backfill-match-rate"]) if r["entity"] == ENTITY]
    assert rate["payments"] > 0 and float(rate["match_rate"].rstrip("%")) > 50

    with (deployed.world / "ground_truth" / "invoices.csv").open(encoding="utf-8") as f:
        truth = sum(1 for r in csv.DictReader(f) if r["entity"] == ENTITY)
    config = WarehouseConfig(url=deployed.base_env["LETTRAGE__WAREHOUSE_URL"])
    with connect(config, read_only=True) as engine:
        invoices = engine.query("SELECT count(*) FROM fct_invoice WHERE entity = :e", {"e": ENTITY})[0][0]
        charges = engine.query("SELECT count(*) FROM raw_stripe_charges")[0][0]
        matches = engine.query("SELECT count(*) FROM fct_match WHERE entity = :e", {"e": ENTITY})[0][0]
    assert invoices == truth
    assert 0 < charges < loaded[f"stripe/{ENTITY}"]["rows"]  # rows of every stripe table
    assert matches >= rate["matched"]  # a payment may settle several invoices


def test_a_failing_source_is_named_and_the_others_are_kept(deployed: Deployed) -> None:
    run = deployed.runs["bad"]
    assert run.state.is_failed()
    assert f"stripe/{ENTITY}" in run.state.message
    assert "1 of" in run.state.message and "source(s) failed" in run.state.message

    loaded = {r["source"]: r for r in _table(_artifacts(run.id)["backfill-rows-loaded"])}
    assert loaded[f"stripe/{ENTITY}"]["status"] == "FAILED"
    others = {k: r for k, r in loaded.items() if k != f"stripe/{ENTITY}"}
    assert others and all(r["status"] == "loaded" and r["rows"] > 0 for r in others.values()), loaded

    bad_wh = WarehouseConfig(url=f"duckdb:///{deployed.tmp / 'bad' / 'wh.duckdb'}")
    with connect(bad_wh, read_only=True) as engine:
        assert not engine.table_exists("raw_stripe_charges")
        assert engine.query("SELECT count(*) FROM raw_gocardless_payments")[0][0] > 0
        assert engine.query("SELECT count(*) FROM fct_invoice WHERE entity = :e", {"e": ENTITY})[0][0] > 0


def test_no_secret_or_customer_iban_reaches_logs_or_artifacts(deployed: Deployed) -> None:
    secrets = world_secrets(deployed.world) | {"sk_test_this_key_is_wrong_000000"}
    assert len(secrets) > 10
    published: list[str] = []
    for run in deployed.runs.values():
        logs = _logs(run.id)
        assert len(logs) > 10
        published += logs
        published += [f"{a.description} {a.data}" for a in _artifacts(run.id).values()]
        published.append(run.state.message or "")
    text = "\n".join(published)
    leaked = sorted(s for s in secrets if s in text)
    assert not leaked, f"{len(leaked)} secret(s) or IBAN(s) published, e.g. {leaked[0][:6]}…"


def test_lettrage_limits_creates_the_global_concurrency_limits_the_runs_hold(deployed: Deployed) -> None:
    from prefect.client.orchestration import get_client

    from lettrage.orchestration import DEFAULT_SOURCE_LIMITS, WAREHOUSE_LIMIT, concurrency_limit_name

    async def read() -> dict[str, int]:
        async with get_client() as client:
            return {lim.name: lim.limit for lim in await client.read_global_concurrency_limits(limit=50)}

    limits = asyncio.run(read())
    assert limits[concurrency_limit_name("netsuite")] == DEFAULT_SOURCE_LIMITS["netsuite"] == 1
    assert limits[concurrency_limit_name("stripe")] == DEFAULT_SOURCE_LIMITS["stripe"]
    assert limits[WAREHOUSE_LIMIT] == 1
    assert "stripe-api" in deployed.limits_out
    logs = "\n".join(_logs(deployed.runs["ok"].id))
    assert "do not exist" not in logs  # the runs found the limits and held real slots
