"""A served copy of the small sample world's API-ERP entities, shared by the three ERP connector tests.

A copy, because incremental tests edit the ERP (append a newer version of an
object to its JSONL file) and the session world must stay as generated.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from connectors._http import RetryPolicy
from sandbox.server import RunningSandbox, serve
from tests.fixtures.loading import small_world

FAST_RETRIES = RetryPolicy(max_attempts=6, base_delay=0.001, max_delay=0.01, max_total_wait=2.0)


def copy_world(dest: Path, entity: str) -> Path:
    src = small_world()
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "world.json", dest / "world.json")
    shutil.copytree(src / entity, dest / entity)
    shutil.copytree(src / "ground_truth", dest / "ground_truth")
    return dest


def served(dest: Path, entity: str) -> Iterator[RunningSandbox]:
    with serve(copy_world(dest, entity)) as sandbox:
        yield sandbox


def credentials(root: Path, entity: str, erp: str) -> dict[str, Any]:
    meta = json.loads((root / "world.json").read_text(encoding="utf-8"))
    return dict(next(e for e in meta["entities"] if e["code"] == entity)[erp])


def ground_truth(root: Path, entity: str) -> tuple[int, Decimal]:
    """Number of documents and their total for ``entity`` in ground_truth/invoices.csv."""
    with (root / "ground_truth" / "invoices.csv").open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["entity"] == entity]
    return len(rows), sum((Decimal(r["amount_total"]) for r in rows), Decimal(0))


def append_jsonl(path: Path, obj: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(obj, separators=(",", ":")) + "\n")


def first_jsonl(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8").splitlines()[0]))


def configure(sandbox: RunningSandbox, mount: str, **settings: Any) -> dict[str, Any]:
    return dict(httpx.post(f"{sandbox.url}{mount}/_sandbox/settings", json=settings).json())


def root_cause(exc: BaseException) -> BaseException:
    """dlt wraps extraction errors (PipelineStepFailed -> ResourceExtractionError -> ours)."""
    seen = exc
    while True:
        nxt = seen.__cause__ or seen.__context__
        if nxt is None or type(seen).__module__.startswith("lettrage"):
            return seen
        seen = nxt
