"""Nightly flow benchmark: idempotent second run, and what Prefect costs on top of the plain steps.

    .venv/bin/python benchmarks/bench_nightly.py [--size small] [--seed 42] [--workdir /tmp/bench_nightly]

1. The nightly flow twice on the same warehouse: the second run must change
   nothing (same raw row counts, same matches by state, same exceptions, same
   open amounts) and take a fraction of the first (files already loaded are
   skipped by hash, API cursors start where they stopped).
2. The same steps as plain functions (load every source, build, reconcile,
   marts, the artifact queries) on a fresh warehouse, versus the nightly flow on
   another fresh warehouse: the difference is the orchestration overhead
   (target < 15 % of wall time). Prefect's temporary server is started by a
   warm-up flow first and not counted: a deployment runs against a server that
   is already up.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # busy machines

AS_OF = date(2026, 11, 25)


def use_warehouse(workdir: Path, name: str, fresh: bool = True) -> Path:
    where = workdir / name
    if fresh:
        shutil.rmtree(where, ignore_errors=True)
    where.mkdir(parents=True, exist_ok=True)
    os.environ["LETTRAGE__WAREHOUSE_URL"] = f"duckdb:///{where / 'wh.duckdb'}"
    os.environ["LETTRAGE__PIPELINES_DIR"] = str(where / "dlt")
    return where


def snapshot() -> dict[str, Any]:
    """What a second run must leave unchanged."""
    from warehouse.engine import connect

    with connect(read_only=True) as engine:
        tables = [r[0] for r in engine.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_name LIKE 'raw%'",
            {"s": engine.dataset})]
        raw = {t: engine.query(f'SELECT count(*) FROM "{t}"')[0][0] for t in sorted(tables)}
        matches = dict(engine.query("SELECT state, count(*) FROM fct_match GROUP BY state ORDER BY state"))
        exceptions = dict(engine.query(
            "SELECT kind, count(*) FROM fct_reconciliation_exception GROUP BY kind ORDER BY kind"))
        open_amount = engine.query("SELECT sum(amount_open) FROM fct_invoice")[0][0]
        aged = engine.query("SELECT sum(amount_open) FROM mart_aged_balance")[0][0]
    return {"raw": raw, "matches": matches, "exceptions": exceptions, "open": str(open_amount), "aged": str(aged)}


def plain_steps() -> dict[str, Any]:
    """The nightly runbook without Prefect: same functions, same order, same reads for the summary."""
    from connectors.registry import build_job, load_sources_config
    from lettrage.orchestration import reports_dir
    from reports import render_reports
    from warehouse.access import apply_access
    from warehouse.build import BuildReport, build_core, build_staging
    from warehouse.engine import connect
    from warehouse.freshness import build_fingerprint, record_fingerprint
    from warehouse.load import run_pipeline
    from warehouse.marts import refresh_marts
    from warehouse.reconcile import reconcile
    from warehouse.summary import aged_balance, match_stats, open_receivables

    config = load_sources_config()
    loaded, failed = [], {}
    for entity, source in config.jobs():
        try:
            job = build_job(config, entity, source)
            loaded.append(run_pipeline(job.pipeline_name, job.dlt_source).total_rows)
        except Exception as exc:  # same contract as the flow: the others still run
            failed[f"{source}/{entity}"] = str(exc)
    with connect() as engine:
        report = build_staging(engine, BuildReport())
        build_core(engine, as_of=AS_OF, report=report)
    with connect() as engine:
        reconcile(engine, as_of=AS_OF)
    with connect() as engine:
        fingerprint = build_fingerprint(engine, AS_OF)
    with connect() as engine:
        refresh_marts(engine, as_of=AS_OF)
        apply_access(engine)
    with connect(read_only=True) as engine:
        render_reports(engine, reports_dir(), AS_OF)
    with connect() as engine:
        record_fingerprint(engine, fingerprint)
    with connect(read_only=True) as engine:
        match_stats(engine), open_receivables(engine), aged_balance(engine)
    return {"rows": sum(loaded), "failed": failed}


def timed(label: str, fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {seconds:7.2f} s", flush=True)
    return seconds, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="small")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/bench_nightly"))
    args = parser.parse_args(argv)

    from prefect import flow

    from flows.nightly_sync import nightly_sync
    from sandbox.demo import write_sources_file
    from sandbox.server import serve
    from sandbox.world import write_world

    root = args.workdir / "world"
    shutil.rmtree(root, ignore_errors=True)
    write_world(root, seed=args.seed, size=args.size, as_of=AS_OF)
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))

    @flow(name="warm-up")
    def warm_up() -> int:
        return 1

    ok = True
    with serve(root) as sandbox:
        os.environ["LETTRAGE__SOURCES_FILE"] = str(
            write_sources_file(root, world, sandbox.stripe_base, sandbox.gocardless_base).resolve())
        print(f"sample world: seed {args.seed}, size {args.size}, {len(world['entities'])} entities")
        timed("Prefect temporary server start (not counted)", warm_up)

        print("1. nightly flow twice on the same warehouse")
        use_warehouse(args.workdir, "twice")
        t1, s1 = timed("first run", lambda: nightly_sync(as_of=AS_OF, return_state=True))
        first = snapshot()
        t2, s2 = timed("second run", lambda: nightly_sync(as_of=AS_OF, return_state=True))
        second = snapshot()
        same = first == second
        ok &= same
        print(f"  second run changed nothing: {same}  ({sum(first['raw'].values()):,} raw rows, "
              f"matches {first['matches']})")
        print(f"  second run took {t2 / t1:.0%} of the first ({t1:.2f} s -> {t2:.2f} s); "
              f"rebuild skipped: {s2.result().get('build') == {'skipped': 'current'}}")
        for loaded in s2.result()["loaded"]:
            print(f"    second-run load {loaded['source']}/{loaded['entity']}: {loaded['rows']} rows in {loaded['seconds']} s")
        if not s1.is_completed():
            print(f"  note: runs ended {s1.name}: {s1.message}")
        if not same:
            for key in first:
                if first[key] != second[key]:
                    print(f"  DIFF {key}: {first[key]} -> {second[key]}")

        print("2. orchestration overhead (fresh warehouse each)")
        use_warehouse(args.workdir, "plain")
        tp, plain = timed("plain functions", plain_steps)
        use_warehouse(args.workdir, "flow")
        tf, _ = timed("nightly flow", lambda: nightly_sync(as_of=AS_OF, return_state=True))
        overhead = (tf - tp) / tf if tf else 0.0
        print(f"  overhead: {tf - tp:+.2f} s = {overhead:.1%} of the flow's wall time (target < 15%)")
        if plain["failed"]:
            print(f"  note: {len(plain['failed'])} source(s) failed in both: {sorted(plain['failed'])}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
