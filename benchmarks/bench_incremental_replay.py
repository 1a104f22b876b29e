"""Incremental replay: does a book reconciled night after night end where one full run puts it?

Loads the sample world (as ``bench_reconcile_quality.py`` does), builds staging and core once, and keeps the
complete ``fct_payment`` and ``int_invoices``. Then it empties them back to what was known on the first night
(payments received and documents issued by then) and replays the book: each night puts back what that night
brought and runs the incremental reconciliation as of that night, as ``nightly-sync`` does. At the end, a full
run of the complete book in a second warehouse file (the same rows) is the reference. Printed: matches and open
amounts that differ between the two, and each run's precision and recall against the world's ground truth, so a
difference can be told right or wrong. It is not a test (``tests/e2e`` runs two nightlies against a full run).

    .venv/bin/python benchmarks/bench_incremental_replay.py [--seed 42] [--size small] [--step-days 7] [--verbose]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

from bench_reconcile_quality import AS_OF, load_world  # noqa: E402

_MATCHES = ("SELECT entity, payment_id, invoice_id, CAST(amount_applied AS VARCHAR), state FROM fct_match "
            "WHERE state IN ('auto', 'confirmed', 'suggested')")
_OPEN = "SELECT entity, invoice_id, CAST(amount_open AS VARCHAR) FROM fct_invoice"


def _night_dates(first: date, last: date, step: int) -> list[date]:
    nights, d = [], first
    while d < last:
        nights.append(d)
        d += timedelta(days=step)
    return [*nights, last]


def replay(engine: object, nights: list[date]) -> float:
    """Put the book back night by night, reconciling incrementally after each; seconds spent reconciling."""
    from warehouse.reconcile import reconcile

    e = engine  # (an Engine; typed loosely: benchmarks import nothing they do not run)
    for table in ("fct_payment", "int_invoices"):
        e.execute(f"CREATE TABLE replay_all_{table} AS SELECT * FROM {table}")  # type: ignore[attr-defined]
        e.execute(f"DELETE FROM {table}")  # type: ignore[attr-defined]
    spent = 0.0
    for night in nights:
        for table, day in (("fct_payment", "paid_on"), ("int_invoices", "issue_date")):
            e.execute(  # type: ignore[attr-defined]
                f"INSERT INTO {table} SELECT * FROM replay_all_{table} AS a WHERE (a.{day} <= :night OR a.{day} IS NULL) "
                f"AND NOT EXISTS (SELECT 1 FROM {table} AS t WHERE t.entity = a.entity AND "
                f"t.{'payment_id' if table == 'fct_payment' else 'invoice_id'} = "
                f"a.{'payment_id' if table == 'fct_payment' else 'invoice_id'})", {"night": night})
        t = time.perf_counter()
        reconcile(e, as_of=night, incremental=True)  # type: ignore[arg-type]
        spent += time.perf_counter() - t
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--size", default="small", help="small, medium or an invoice count")
    parser.add_argument("--step-days", type=int, default=7, help="days between two replayed nights")
    parser.add_argument("--first", type=date.fromisoformat, default=None,
                        help="the first night (default: 120 days before the world's as-of date)")
    parser.add_argument("--verbose", action="store_true", help="list every difference")
    args = parser.parse_args()
    size: str | int = int(args.size) if args.size.isdigit() else args.size
    with tempfile.TemporaryDirectory() as tmp:
        full_file, replay_file = Path(tmp) / "full.duckdb", Path(tmp) / "replay.duckdb"
        os.environ["LETTRAGE__WAREHOUSE_URL"] = f"duckdb:///{full_file}"
        os.environ["LETTRAGE__DATASET"] = "lettrage"
        os.environ["LETTRAGE__PIPELINES_DIR"] = str(Path(tmp) / "dlt")
        from warehouse.build import build_core, build_staging
        from warehouse.engine import connect
        from warehouse.reconcile import reconcile
        from warehouse.reconcile.scoring import read_ground_truth, score, warehouse_entities

        root = Path(tmp) / "world"
        load_world(root, seed=args.seed, size=size)
        with connect() as engine:
            build_core(engine, as_of=AS_OF, report=build_staging(engine))
        shutil.copy(full_file, replay_file)

        with connect() as engine:
            t = time.perf_counter()
            reconcile(engine, as_of=AS_OF)
            full_s = time.perf_counter() - t
            truth = read_ground_truth(root / "ground_truth", warehouse_entities(engine))
            full_score = score(engine, truth)
            full_matches, full_open = set(engine.query(_MATCHES)), set(engine.query(_OPEN))

        os.environ["LETTRAGE__WAREHOUSE_URL"] = f"duckdb:///{replay_file}"
        nights = _night_dates(args.first or AS_OF - timedelta(days=120), AS_OF, args.step_days)
        with connect() as engine:
            spent = replay(engine, nights)
            replay_score = score(engine, truth)
            replay_matches, replay_open = set(engine.query(_MATCHES)), set(engine.query(_OPEN))

    only_full, only_replay = sorted(full_matches - replay_matches), sorted(replay_matches - full_matches)
    open_diff = sorted({(e, i) for e, i, _ in full_open ^ replay_open})
    print(f"world seed {args.seed} size {args.size}: full run {full_s:.2f} s; {len(nights)} nights from "
          f"{nights[0]} every {args.step_days} days, {spent:.1f} s reconciling in all")
    print(f"  matches: {len(full_matches)} full, {len(replay_matches)} replayed; {len(only_full)} only in the full "
          f"run, {len(only_replay)} only in the replay; open amounts differing on {len(open_diff)} invoices")
    for label, s in (("full", full_score), ("replay", replay_score)):
        print(f"  {label:<6} precision {s.precision:.4f}  envelope recall {s.envelope_recall:.4f}  "
              f"line recall {s.line_recall:.4f}  unexplained {s.outcomes['unexplained']}")
    if args.verbose:
        for row in only_full:
            print("  ONLY FULL  ", *row)
        for row in only_replay:
            print("  ONLY REPLAY", *row)
        full_by = {(e, i): a for e, i, a in full_open}
        replay_by = {(e, i): a for e, i, a in replay_open}
        for key in open_diff:
            print("  OPEN", *key, "full", full_by.get(key), "replay", replay_by.get(key))
    print("replay equals the full run:", "yes" if not (only_full or only_replay or open_diff) else "NO")


if __name__ == "__main__":
    main()
