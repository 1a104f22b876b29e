"""Provider sync throughput: N Stripe balance transactions and N GoCardless payments through the sandbox.

    .venv/bin/python benchmarks/bench_provider_sync.py                 # 1,000,000 of each (minutes)
    .venv/bin/python benchmarks/bench_provider_sync.py --n 50000       # quick look
    .venv/bin/python benchmarks/bench_provider_sync.py --engine postgres

The sandbox runs in its own process (``python -m sandbox.server``) so the peak
memory printed is the sync's alone. For each provider it prints rows, rows/s,
peak RSS, and where the wall time went: waiting on HTTP (time inside
``requests``' send, server work included), the rest of extract (SDK parsing,
our paging and mapping, dlt's extract), and dlt's normalize + load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import requests

ENTITY = "BENCH"
STRIPE_KEY = "sk_test_sandbox_BENCH"
GC_TOKEN = "sandbox_BENCH_token"


class HttpClock:
    """Sums the time spent inside ``requests.Session.send`` (all SDK traffic goes through it)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._original = requests.Session.send

    def __enter__(self) -> HttpClock:
        clock, original = self, self._original

        def timed(session: requests.Session, request: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                response = original(session, request, **kwargs)
                _ = response.content  # the body transfer is part of the wait
                return response
            finally:
                clock.seconds += time.perf_counter() - start
                clock.calls += 1

        requests.Session.send = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        requests.Session.send = self._original  # type: ignore[method-assign]


def write_world(root: Path, n: int, seed: int) -> None:
    """Bulk objects from ``sandbox.world``; Stripe payouts derived from each group's payout transaction."""
    from sandbox.world import iter_gocardless_payments, iter_stripe_balance_transactions

    stripe_dir, gc_dir = root / ENTITY / "stripe", root / ENTITY / "gocardless"
    stripe_dir.mkdir(parents=True, exist_ok=True)
    gc_dir.mkdir(parents=True, exist_ok=True)
    with (
        (stripe_dir / "balance_transactions.jsonl").open("w") as bts,
        (stripe_dir / "payouts.jsonl").open("w") as pos,
    ):
        for bt in iter_stripe_balance_transactions(n, seed):
            bts.write(json.dumps(bt, separators=(",", ":")) + "\n")
            if bt["type"] == "payout":
                pos.write(
                    json.dumps(
                        {
                            "id": bt["source"],
                            "object": "payout",
                            "amount": -bt["amount"],
                            "currency": "eur",
                            "created": bt["created"],
                            "arrival_date": bt["created"] + 2 * 86400,
                            "status": "paid",
                            "automatic": True,
                            "balance_transaction": bt["id"],
                            "statement_descriptor": "BENCH",
                            "livemode": False,
                            "metadata": {},
                        },
                        separators=(",", ":"),
                    )
                    + "\n"
                )
    with (gc_dir / "payments.jsonl").open("w") as out:
        for payment in iter_gocardless_payments(n, seed):
            out.write(json.dumps(payment, separators=(",", ":")) + "\n")
    (root / "world.json").write_text(
        json.dumps(
            {
                "as_of": "2030-01-01",
                "entities": [
                    {"code": ENTITY, "stripe_api_key": STRIPE_KEY, "gocardless_access_token": GC_TOKEN}
                ],
            }
        )
    )


def start_server(root: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server", "--root", str(root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split()[3]


def server_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(name: str, source: Any, config: Any, loader_file_format: str | None) -> dict[str, Any]:
    from warehouse.load import make_pipeline, run_pipeline

    kwargs = {"loader_file_format": loader_file_format} if loader_file_format else {}
    with HttpClock() as clock:
        start = time.perf_counter()
        result = run_pipeline(name, source, config, **kwargs)
        wall = time.perf_counter() - start
    trace = make_pipeline(name, config).last_trace
    steps = {s.step: (s.finished_at - s.started_at).total_seconds() for s in trace.steps} if trace else {}
    extract = steps.get("extract", wall)
    return {
        "rows": result.rows,
        "wall": wall,
        "http": clock.seconds,
        "requests": clock.calls,
        "extract_other": max(extract - clock.seconds, 0.0),
        "normalize_load": steps.get("normalize", 0.0) + steps.get("load", 0.0),
    }


def count(config: Any, table: str) -> int:
    from warehouse.engine import connect

    with connect(config) as engine:
        return int(engine.query(f"SELECT count(*) FROM {table}")[0][0])


def report(label: str, rows: int, m: dict[str, Any]) -> None:
    wall = m["wall"]
    print(f"{label}: {rows:,} rows in {wall:.1f}s = {rows / wall:,.0f} rows/s; {m['requests']:,} requests")
    print(
        f"  wall time: HTTP wait {m['http'] / wall:.0%} | our code + SDK + dlt extract "
        f"{m['extract_other'] / wall:.0%} | dlt normalize+load {m['normalize_load'] / wall:.0%}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000, help="objects per provider (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--engine", choices=("duckdb", "postgres"), default="duckdb")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--loader-file-format",
        default="auto",
        help="dlt loader file format; 'auto' = parquet on DuckDB (insert_values there is ~3x slower "
        "and ~5x the memory), run_pipeline's csv on Postgres; 'default' = run_pipeline's own",
    )
    args = parser.parse_args(argv)

    from connectors.gocardless import gocardless_source
    from connectors.stripe import stripe_source
    from lettrage.config import WarehouseConfig

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-provider-"))
    os.environ["LETTRAGE__PIPELINES_DIR"] = str(workdir / "dlt")
    root = workdir / "world"
    t = time.perf_counter()
    write_world(root, args.n, args.seed)
    print(
        f"world: {args.n:,} Stripe balance transactions + {args.n:,} GoCardless payments written in "
        f"{time.perf_counter() - t:.1f}s under {root}"
    )
    if args.engine == "duckdb":
        config = WarehouseConfig(url=f"duckdb:///{workdir / 'bench.duckdb'}", dataset="lettrage")
    else:
        config = WarehouseConfig(
            url="postgresql://postgres@127.0.0.1:5432/test", dataset=f"bench_{os.getpid()}"
        )

    fmt = args.loader_file_format
    fmt = {"auto": "parquet" if args.engine == "duckdb" else None, "default": None}.get(fmt, fmt)
    print(f"warehouse: {args.engine}, loader file format: {fmt or 'run_pipeline default'}")
    proc, url = start_server(root)
    try:
        t = time.perf_counter()
        for path, headers in (
            ("/stripe/v1/payouts", {"Authorization": f"Bearer {STRIPE_KEY}"}),
            ("/stripe/v1/balance_transactions", {"Authorization": f"Bearer {STRIPE_KEY}"}),
            (
                "/gocardless/payments",
                {"Authorization": f"Bearer {GC_TOKEN}", "GoCardless-Version": "2015-07-06"},
            ),
        ):
            httpx.get(url + path, params={"limit": 1}, headers=headers, timeout=600).raise_for_status()
        print(f"sandbox: indexes built in {time.perf_counter() - t:.1f}s")

        stripe = stripe_source(
            ENTITY, api_key=STRIPE_KEY, base_url=f"{url}/stripe", start_date="2000-01-01", with_events=False
        ).with_resources("payouts", "balance_transactions")
        m = run(f"bench_stripe_{ENTITY}", stripe, config, fmt)
        report(
            "stripe balance transactions (per payout)", count(config, "raw_stripe_balance_transactions"), m
        )

        gc = gocardless_source(
            ENTITY, access_token=GC_TOKEN, base_url=f"{url}/gocardless", start_date="2000-01-01"
        ).with_resources("payments")
        m = run(f"bench_gocardless_{ENTITY}", gc, config, fmt)
        report("gocardless payments", count(config, "raw_gocardless_payments"), m)
        print(
            f"peak memory: sync process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB, "
            f"sandbox server {server_peak_rss_mb(proc.pid):,.0f} MB"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if args.engine == "postgres":
            from warehouse.engine import connect

            with connect(config) as engine:
                engine.execute(f'DROP SCHEMA IF EXISTS "{config.dataset}" CASCADE')
                engine.execute(f'DROP SCHEMA IF EXISTS "{config.dataset}_staging" CASCADE')


if __name__ == "__main__":
    main()
