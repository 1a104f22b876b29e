"""Loading ``raw_*`` tables with dlt into the configured warehouse.

One dlt pipeline per (source, entity) keeps each source's incremental state
apart, while every pipeline writes into the same dataset (default ``lettrage``),
so staging SQL sees all raw tables side by side. dlt commits a source's state
with its data in the same load, which is what makes an interrupted sync resume
without loss or duplicates.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.common.runtime.collector import NULL_COLLECTOR
from dlt.pipeline.progress import TCollectorArg

from lettrage.config import WarehouseConfig, load_warehouse_config
from warehouse.engine import Engine, connect
from warehouse.migrations import migrate_raw

log = logging.getLogger(__name__)

DEFAULT_PIPELINES_DIR = Path("var") / "dlt"

# Every raw row carries the load that wrote it (``_dlt_load_id``), arrow tables too: dlt adds it only
# to rows it normalises itself unless told, and the file connectors yield arrow tables. The build
# fingerprint (warehouse/freshness.py) reads each raw table's newest load: without the column a file
# dropped and loaded later the same day left the fingerprint as it was, and the sync skipped the build
# ("nothing new"), leaving the warehouse without what it had just loaded. An environment variable, so
# dlt's normalizer processes see it too; one set by the deployment wins.
os.environ.setdefault("NORMALIZE__PARQUET_NORMALIZER__ADD_DLT_LOAD_ID", "true")

# Python's garbage collector thresholds while a load runs (default 700, 10, 10): the young
# generation collected every 50,000 allocations instead of 700, older ones half as often.
LOAD_GC_THRESHOLDS: tuple[int, int, int] = (50_000, 20, 20)
_gc_lock = threading.Lock()
_gc_depth = 0
_gc_saved: tuple[int, int, int] = gc.get_threshold()


@dataclass(frozen=True, slots=True)
class LoadResult:
    pipeline: str
    rows: dict[str, int]
    load_ids: list[str]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def destination_for(config: WarehouseConfig) -> Any:
    """A dlt destination object for the warehouse config."""
    if config.engine == "duckdb":
        path = config.duckdb_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return dlt.destinations.duckdb(credentials=str(path))
    return dlt.destinations.postgres(credentials=config.postgres_url())


def pipelines_dir() -> Path:
    return Path(os.environ.get("LETTRAGE__PIPELINES_DIR", str(DEFAULT_PIPELINES_DIR))).resolve()


def make_pipeline(name: str, config: WarehouseConfig | None = None, progress: Any = None) -> dlt.Pipeline:
    """``progress``: an optional dlt collector (the CLI's live progress); default: none, or log lines."""
    config = config or load_warehouse_config()
    collector: TCollectorArg = progress or ("log" if os.environ.get("LETTRAGE__PROGRESS") == "log" else NULL_COLLECTOR)
    return dlt.pipeline(
        pipeline_name=name,
        destination=destination_for(config),
        dataset_name=config.dataset,
        pipelines_dir=str(pipelines_dir()),
        progress=collector,
    )


def run_pipeline(name: str, source: Any, config: WarehouseConfig | None = None, progress: Any = None,
                 **run_kwargs: Any) -> LoadResult:
    """Extract, normalize and load ``source``; return rows written per table."""
    config = config or load_warehouse_config()
    with connect(config) as engine:
        migrate_raw(engine)  # columns dlt cannot add itself to a table it loaded before
        pipeline = _without_stale_state(make_pipeline(name, config, progress=progress), engine)
    if config.engine == "postgres":
        run_kwargs.setdefault("loader_file_format", "csv")  # COPY: ~4x faster than insert_values
    with batch_gc():
        info = pipeline.run(source, **run_kwargs)
    return LoadResult(pipeline=name, rows=extracted_rows(pipeline), load_ids=list(info.loads_ids))


def _without_stale_state(pipeline: dlt.Pipeline, engine: Engine) -> dlt.Pipeline:
    """``pipeline``, with its local state forgotten when the warehouse holds none for it.

    dlt keeps what a pipeline has loaded (the files' hashes, the API cursors) in a local working
    folder and in the warehouse (``_dlt_pipeline_state``). When the warehouse was replaced or emptied
    (a new DuckDB file at the same path, a fresh Postgres schema), the local state still says
    "loaded": every file was skipped, the new warehouse stayed empty, and the run said nothing. dlt
    wipes local state only when the dataset does not exist at all, and the contract's tables create
    it. A state the warehouse lacks is stale: the run starts over from the sources, and the merge
    dispositions keep what it reloads free of duplicates.
    """
    if pipeline.first_run:
        return pipeline
    kept = engine.table_exists("_dlt_pipeline_state") and bool(engine.query(
        "SELECT 1 FROM _dlt_pipeline_state WHERE pipeline_name = :name LIMIT 1",
        {"name": pipeline.pipeline_name}))
    if kept:
        return pipeline
    log.warning("pipeline %s: the warehouse holds no state of it (replaced or emptied since the last run): "
                "its local state is dropped and its sources are read again from the start", pipeline.pipeline_name)
    return pipeline.drop()


@contextmanager
def batch_gc() -> Iterator[None]:
    """Python's cyclic garbage collector tuned for a load, as it was before afterwards.

    Why: a load allocates containers by the million (an API page parsed to dicts, dlt's
    items), nearly all freed by reference counting within the page. With the default
    young-generation threshold (700 allocations) the collector ran every few rows, promoted
    objects still in use to older generations, and so set off full passes over the whole
    heap. At 50,000 (and the older generations half as often) it runs once or twice a page:
    measured under the profiler on the 1M provider benchmark, GoCardless went from 81,522 to
    86,370-88,876 rows/s (our code's share of wall time from 29 % to 22 %), Stripe from 40,700
    to 42,369-43,317 rows/s, peak memory unchanged (~2.0 GB). Cycles are still collected, only less often. Nested or concurrent loads
    (Prefect runs tasks in threads) share one setting, restored when the last one ends.
    """
    global _gc_depth, _gc_saved
    with _gc_lock:
        if _gc_depth == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(*(max(ours, theirs) for ours, theirs in zip(LOAD_GC_THRESHOLDS, _gc_saved, strict=True)))
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                gc.set_threshold(*_gc_saved)


def extracted_rows(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table of the last run, counted at extract.

    Normalize's counts are not rows with the csv writer (dlt 1.31 counts cells
    there: 80 for 20 rows of 4 columns), so the extract metrics, which count the
    items each resource yielded, are the honest figure on every engine.
    """
    rows: dict[str, int] = {}
    trace = pipeline.last_trace
    if trace is None or trace.last_extract_info is None:
        return rows
    for metrics in trace.last_extract_info.metrics.values():
        for metric in metrics:
            for table, table_metrics in metric["table_metrics"].items():
                if not table.startswith("_dlt"):
                    rows[table] = rows.get(table, 0) + int(table_metrics.items_count)
    return rows


@dataclass(frozen=True, slots=True)
class SetAside:
    """What a load sent to ``raw_quarantine``: how many records (a file's line, an API object) and the first few as
    (file, line, field, reason). ``raw_quarantine`` holds a row per bad field, so a line with two bad fields is two
    of its rows but one record set aside: the count a person reading the log expects."""

    records: int | None
    examples: list[tuple[str, int | None, str | None, str]]


def quarantined_by_load(load_ids: list[str], source: str, entity: str, *, limit: int = 3,
                        config: WarehouseConfig | None = None) -> SetAside:
    """The records a load set aside and the first few of them, for the run's log to count and name them: a count of
    quarantine rows and a query alone sent whoever ran the sync digging for what one line can say. Best effort: the
    log loses nothing but the detail (``records`` None) if the warehouse cannot be read just then. A rejected file's
    own row (line 0) is not a record of it."""
    if not load_ids:
        return SetAside(None, [])
    marks = ", ".join(f":l{i}" for i in range(len(load_ids)))
    params: dict[str, Any] = {"s": source, "e": entity, **{f"l{i}": v for i, v in enumerate(load_ids)}}
    where = (f"source_system = :s AND entity = :e AND (line IS NULL OR line > 0) AND _dlt_load_id IN ({marks})")
    try:
        with connect(config) as engine:
            if not engine.table_exists("raw_quarantine"):
                return SetAside(None, [])
            records = engine.query(f"SELECT count(*) FROM (SELECT DISTINCT file, line FROM raw_quarantine "
                                   f"WHERE {where}) AS r", params)[0][0]
            rows = engine.query(f"SELECT file, line, field, reason FROM raw_quarantine WHERE {where} "
                                f"ORDER BY file, line LIMIT {int(limit)}", params)
    except Exception as exc:  # noqa: BLE001 - the detail is a courtesy of the log, never a reason to fail
        log.debug("no quarantine detail for %s/%s: %s", source, entity, exc)
        return SetAside(None, [])
    return SetAside(int(records), [(str(f), None if n is None else int(n), None if fld is None else str(fld), str(r))
                                   for f, n, fld, r in rows])
