"""Load speed of the file sources: a bulk FEC and a bulk SAP export into DuckDB.

Usage::

    .venv/bin/python benchmarks/bench_file_load.py [--invoice-lines 1000000] [--keep DIR] [--only fec|sap]

Files come from ``sandbox.world.write_bulk_fec`` / ``write_bulk_sap``: the FEC
holds ``invoice-lines`` sales-journal lines (3 per invoice) plus the bank
receipts; the SAP export ``invoice-lines`` RV items plus DZ lines for cleared
ones. Each load then runs in a fresh child process, end to end (scan, parse,
dlt extract, normalize, merge-load) into an empty DuckDB file, and prints
rows/s, that process's peak resident memory (``ru_maxrss``), its CPU seconds
(and rows per CPU second) and the machine's load average: on a shared machine
wall time inflates with load, so rows per CPU second is the figure to compare runs by.
Target: >= 100,000 rows/s per source, < 2 GB peak.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(name: str, folder: Path, work: Path, entity: str) -> dict[str, object]:
    """Run one source over ``folder`` into a fresh DuckDB; meant to run in its own process."""
    from connectors._files import FileLoadStats
    from connectors.sage_fec import sage_fec_source
    from connectors.sap_export import sap_export_source
    from lettrage.config import WarehouseConfig
    from warehouse.load import run_pipeline

    factory = {"fec": sage_fec_source, "sap": sap_export_source}[name]
    os.environ["LETTRAGE__PIPELINES_DIR"] = str(work / f"dlt_{name}")
    config = WarehouseConfig(url=f"duckdb:///{work / f'{name}.duckdb'}", dataset="lettrage")
    stats = FileLoadStats()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    result = run_pipeline(f"bench_{name}", factory(str(folder), entity=entity, stats=stats), config)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu0
    return {"source": name, "rows": stats.rows_loaded, "quarantined": stats.rows_quarantined,
            "seconds": round(elapsed, 2), "rows_per_s": round(stats.rows_loaded / elapsed),
            "cpu_seconds": round(cpu, 2), "rows_per_cpu_s": round(stats.rows_loaded / max(cpu, 1e-9)),
            "load_avg_1m": round(os.getloadavg()[0], 1), "peak_rss_mb": round(peak_rss_mb()),
            "tables": result.rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoice-lines", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None,
                        help="work directory to keep and reuse generated files from (default: temporary)")
    parser.add_argument("--only", choices=("fec", "sap"), default=None)
    parser.add_argument("--load", nargs=3, metavar=("SOURCE", "FOLDER", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        name, folder, work = args.load
        print(json.dumps(load(name, Path(folder), Path(work), {"fec": "FR01", "sap": "DE01"}[name])))
        return

    from sandbox.world import write_bulk_fec, write_bulk_sap

    work = args.keep or Path(tempfile.mkdtemp(prefix="lettrage-bench-"))
    jobs = {
        "fec": (work / "FR01" / "sage_fec", "984492926FEC20251231.txt",
                lambda p: write_bulk_fec(p, max(args.invoice_lines // 3, 1), 42)),
        "sap": (work / "DE01" / "sap_export", "BSID_DE01_20251231.csv",
                lambda p: write_bulk_sap(p, args.invoice_lines, 42)),
    }
    try:
        for name, (folder, filename, write) in jobs.items():
            if args.only not in (None, name):
                continue
            folder.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            if args.keep is not None and (folder / filename).exists():  # reuse a kept file
                lines = sum(1 for _ in (folder / filename).open("rb")) - 1
            else:
                lines = write(folder / filename)
            size_mb = (folder / filename).stat().st_size / 1e6
            print(f"generated {name}: {lines:,d} rows, {size_mb:,.0f} MB in {time.perf_counter() - started:.1f}s")
            for stale in work.glob(f"{name}.duckdb*"):
                stale.unlink()
            shutil.rmtree(work / f"dlt_{name}", ignore_errors=True)
            child = subprocess.run([sys.executable, __file__, "--load", name, str(folder), str(work)],
                                   check=True, capture_output=True, text=True)
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"{name:4s} loaded {r['rows']:>10,d} rows (quarantined {r['quarantined']}) "
                  f"in {r['seconds']:6.1f}s "
                  f"= {r['rows_per_s']:>9,d} rows/s, peak RSS {r['peak_rss_mb']:,d} MB; "
                  f"CPU {r['cpu_seconds']}s (all threads) = {r['rows_per_cpu_s']:,d} rows/CPU-s, "
                  f"machine load average {r['load_avg_1m']} on {os.cpu_count()} CPUs")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
