"""Quality benchmark of the reconciliation against the sample world's ground truth.

Generates a world, loads it through the real connectors (files + the local
Stripe/GoCardless sandbox) into a fresh DuckDB warehouse, runs ``build_all``
(staging, core, reconcile, marts) and scores it with
:mod:`warehouse.reconcile.scoring`. Prints a table; it is not a test (the
integration test ``tests/integration/reconcile/test_quality.py`` asserts the
targets on one small world).

    .venv/bin/python benchmarks/bench_reconcile_quality.py [--seed 42] [--size small|medium] [--verbose]

Every entity of the world is loaded (FR01 on Sage FEC, DE01 on SAP exports, UK01
on the Sage Accounting API, US01 on NetSuite SuiteQL, ES01 on SAP Business One,
the three APIs served by the sandbox); ``--erp`` restricts the load to some ERP
families, and the ground truth is then restricted to the entities loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

AS_OF = date(2026, 11, 25)
ERPS = ("sage_fec", "sap_export", "sage_accounting", "netsuite", "sap_b1")


def load_world(root: Path, *, seed: int, size: str | int, as_of: date = AS_OF,
               erps: tuple[str, ...] = ERPS) -> None:
    """Write a world under ``root`` and load the entities on ``erps`` into the warehouse LETTRAGE__* points at."""
    from connectors.registry import build_job, load_sources_config
    from sandbox.demo import write_sources_file
    from sandbox.server import serve
    from sandbox.world import write_world
    from warehouse.load import run_pipeline

    write_world(root, seed=seed, size=size, as_of=as_of)
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))
    world["entities"] = [e for e in world["entities"] if e["erp"] in erps]
    with serve(root) as sb:
        cfg = load_sources_config(write_sources_file(root, world, sb.stripe_base, sb.gocardless_base))
        for entity, source in cfg.jobs():
            job = build_job(cfg, entity, source)
            run_pipeline(job.pipeline_name, job.dlt_source)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--size", default="small", help="small, medium or an invoice count")
    parser.add_argument("--erp", action="append", choices=ERPS,
                        help="load only the entities on this ERP (repeatable; default: all five families)")
    parser.add_argument("--verbose", action="store_true", help="list wrong and missed payments")
    args = parser.parse_args()
    size: str | int = int(args.size) if args.size.isdigit() else args.size
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["LETTRAGE__WAREHOUSE_URL"] = f"duckdb:///{Path(tmp) / 'wh.duckdb'}"
        os.environ["LETTRAGE__DATASET"] = "lettrage"
        os.environ["LETTRAGE__PIPELINES_DIR"] = str(Path(tmp) / "dlt")
        from warehouse.build import build_all
        from warehouse.engine import connect
        from warehouse.reconcile.scoring import read_ground_truth, score, warehouse_entities

        t = time.perf_counter()
        root = Path(tmp) / "world"
        load_world(root, seed=args.seed, size=size, erps=tuple(args.erp or ERPS))
        loaded = time.perf_counter() - t
        with connect() as engine:
            _, summary = build_all(engine, as_of=AS_OF)
            truth = read_ground_truth(root / "ground_truth", warehouse_entities(engine))
            result = score(engine, truth)
            exceptions = engine.query("SELECT entity, kind, count(*) FROM fct_reconciliation_exception "
                                      "WHERE resolved_at IS NULL GROUP BY entity, kind ORDER BY entity, kind")
            disagreements = engine.query("SELECT entity, invoice_id, payment_id, detail FROM fct_reconciliation_exception "
                                         "WHERE resolved_at IS NULL AND kind = 'erp_disagreement' "
                                         "ORDER BY entity, invoice_id, payment_id")
        print(f"world seed {args.seed} size {args.size}: loaded in {loaded:.1f} s, "
              f"reconciled in {summary.seconds:.2f} s")  # type: ignore[attr-defined]
        print(result.table())
        if args.verbose:
            for w in result.wrong:
                print("WRONG", w)
            for m in result.missed:
                print("MISSED", m)
            for u in result.unexplained:
                print("UNEXPLAINED", u)
            print("open exceptions:", ", ".join(f"{e} {k} {n}" for e, k, n in exceptions))
            for d in disagreements:
                print("ERP_DISAGREEMENT", *d)
        ok = (result.precision >= 0.995 and result.envelope_recall >= 0.97 and result.outcomes["unexplained"] == 0
              and result.balance_equal and result.as_read_equal)
        print("targets:", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
