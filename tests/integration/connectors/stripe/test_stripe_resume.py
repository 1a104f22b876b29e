"""A sync killed with SIGKILL mid-way resumes from dlt's committed state and ends equal to a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from connectors.stripe import stripe_source
from lettrage.config import WarehouseConfig
from sandbox.server import RunningSandbox
from warehouse.engine import connect
from warehouse.load import run_pipeline

from .conftest import FAST_RETRIES
from .test_stripe_sync import KEY, expected_ids, loaded_ids

CHUNKED_SYNC = textwrap.dedent("""
    import sys
    from connectors._http import RetryPolicy
    from connectors.stripe import stripe_source
    from warehouse.load import run_pipeline

    base, key = sys.argv[1], sys.argv[2]
    while True:  # each run loads at most 2 pages per resource and commits data + cursor together
        result = run_pipeline("stripe_FR01", stripe_source("FR01", api_key=key, base_url=base, page_size=10,
                              max_pages=2, with_events=False, retry_policy=RetryPolicy(max_total_wait=1.0)))
        print("committed", result.total_rows, flush=True)
        if result.total_rows == 0:
            break
""")


def chunked_source(base: str) -> object:
    return stripe_source(
        "FR01",
        api_key=KEY,
        base_url=base,
        page_size=10,
        max_pages=2,
        with_events=False,
        retry_policy=FAST_RETRIES,
    )


def run_chunked(base: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CHUNKED_SYNC, base, KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
    )


def test_killed_sync_resumes_to_the_same_warehouse_as_a_clean_run(
    stripe_sandbox: RunningSandbox,
    stripe_world: tuple[Path, dict],
    warehouse_config: WarehouseConfig,
    tmp_path: Path,
) -> None:
    proc = run_chunked(stripe_sandbox.stripe_base, tmp_path)
    assert proc.stdout is not None
    commits = 0
    for line in proc.stdout:
        if line.startswith("committed") and int(line.split()[1]) > 0:
            commits += 1
            if commits == 2:
                os.kill(proc.pid, signal.SIGKILL)  # mid-way: the third chunk is already being fetched
                break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with connect(warehouse_config) as engine:
        partial = engine.query("SELECT count(*) FROM raw_stripe_charges")[0][0]
    assert 0 < partial < 60  # something committed, not everything

    runs = []
    while not runs or runs[-1]:  # the same loop, in this process, from the committed state
        runs.append(
            run_pipeline(
                "stripe_FR01", chunked_source(stripe_sandbox.stripe_base), warehouse_config
            ).total_rows
        )
    assert len(runs) <= 4  # resumed from the cursor, did not start over

    ids = loaded_ids(warehouse_config)
    for table, want in expected_ids(stripe_world[0]).items():
        assert ids[table] == sorted(want), table  # every id once: equal to a clean run
