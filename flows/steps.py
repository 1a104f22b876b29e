"""Prefect tasks: one per source or warehouse step, never per record.

Each task is a thin wrapper over a plain function of ``connectors/``,
``warehouse/`` or ``lettrage/orchestration.py`` (tests call those directly).

- Loads of network sources retry with backoff, and only on transient errors
  (a refused key fails at once); they hold a slot of their provider's global
  concurrency limit (``stripe-api``, ``netsuite-api``…).
- Warehouse steps hold the ``lettrage-warehouse`` slot: one writer at a time.
- Limits are acquired non-strictly: with no such limit (temporary local server)
  the step runs unthrottled.
- Load steps are never cached: dlt keeps the incremental state with the data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from prefect import get_run_logger, task
from prefect.concurrency.sync import concurrency

from connectors.registry import API_SOURCES, build_job, load_sources_config
from lettrage import orchestration as orch
from lettrage.logging import install_masking
from lettrage.progress import BOARD, DltProgress
from warehouse.build import BuildReport, build_core, build_staging
from warehouse.engine import connect
from warehouse.load import SetAside, quarantined_by_load, run_pipeline

# Masking on Prefect's loggers too: a run's logs go to the API and the UI.
install_masking("", "prefect", "prefect.flow_runs", "prefect.task_runs")


@contextmanager
def _slot(name: str) -> Iterator[None]:
    """Hold one slot of a global concurrency limit if the server has it; run unthrottled otherwise."""
    if not orch.limit_exists(name):
        get_run_logger().debug("no concurrency limit %r on this server: running unthrottled", name)
        yield
        return
    with concurrency(name, occupy=1, strict=False):
        yield


def is_network(source: str) -> bool:
    return source in API_SOURCES or source in orch.DEFAULT_SOURCE_LIMITS


def _load(entity: str, source: str, start: date | None, end: date | None,
          reread_statements: bool = False) -> dict[str, Any]:
    logger = get_run_logger()
    key = orch.source_key(source, entity)
    BOARD.start(key)
    started = time.monotonic()
    try:
        job = build_job(load_sources_config(), entity, source, start=start, end=end,
                        reread_statements=reread_statements)
        if is_network(source):
            with _slot(orch.concurrency_limit_name(source)):
                result = run_pipeline(job.pipeline_name, job.dlt_source, progress=DltProgress(key))
        else:
            result = run_pipeline(job.pipeline_name, job.dlt_source, progress=DltProgress(key))
    except BaseException as exc:
        BOARD.fail(key, orch.describe_error(exc))
        raise
    elapsed = time.monotonic() - started
    quarantined = result.rows.get("raw_quarantine", 0)
    pages = next((s.pages for s in BOARD.snapshot() if s.key == key), 0)
    rejected = job.rejected_files
    set_aside = orch.rows_set_aside(rejected, quarantined)
    bad = quarantined_by_load(result.load_ids, source, entity) if set_aside else SetAside(0, [])
    detail = orch.load_detail(source, entity, rejected, quarantined, bad.records)
    BOARD.finish(key, rows=result.total_rows, message=detail or None)
    logger.info("%s: %d rows into %d tables in %.1fs (%d pages, %d quarantine rows)%s",
                key, result.total_rows, len(result.rows), elapsed, pages, quarantined,
                f", window {start}..{end}" if start or end else "")
    if rejected:
        logger.error("%s: %s", key, orch.rejected_message(rejected))
    if set_aside:
        logger.warning("%s: %s", key, orch.quarantined_message(source, entity, set_aside, bad.examples, bad.records))
    return {"entity": entity, "source": source, "rows": result.total_rows, "tables": result.rows,
            "quarantined": quarantined, "quarantined_records": bad.records, "pages": pages,
            "seconds": round(elapsed, 2), "rejected_files": rejected}


def _retry_transient(task_: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry condition: only transient trouble is worth another attempt."""
    try:
        exc = state.result(raise_on_failure=False)
    except BaseException as raised:  # noqa: BLE001 - the state's exception is what we classify
        exc = raised
    return orch.is_retryable(exc if isinstance(exc, BaseException) else None)


@task(task_run_name="load-{source}-{entity}", timeout_seconds=orch.FILE_LOAD_TIMEOUT)
def load_source(entity: str, source: str, start: date | None = None, end: date | None = None,
                reread_statements: bool = False) -> dict[str, Any]:
    """Extract and load one source of one entity into ``raw_*`` (a window when start/end are given; bank statements
    loaded before read again with ``reread_statements``)."""
    return _load(entity, source, start, end, reread_statements)


def load_task(source: str) -> Any:
    """The load task for ``source``: network sources get retries with backoff, a longer timeout."""
    if is_network(source):
        return load_source.with_options(
            retries=orch.NETWORK_RETRIES, retry_delay_seconds=list(orch.NETWORK_RETRY_DELAYS),
            retry_jitter_factor=orch.NETWORK_RETRY_JITTER, retry_condition_fn=_retry_transient,
            timeout_seconds=orch.NETWORK_LOAD_TIMEOUT,
        )
    return load_source


# Kept for callers of the first version.
with_network_retries = load_task


def load_sources(jobs: list[tuple[str, str]], *, start: date | None = None,
                 end: date | None = None, reread_statements: bool = False) -> orch.RunOutcome:
    """Run one load task per (entity, source); a failure is recorded and the next source still runs."""
    logger = get_run_logger()
    BOARD.plan([orch.source_key(s, e) for e, s in jobs])
    outcome = orch.RunOutcome()
    for entity, source in jobs:
        state = load_task(source)(entity, source, start=start, end=end, reread_statements=reread_statements,
                                  return_state=True)
        if state.is_completed():
            outcome.add_loaded(state.result())
        else:
            reason = orch.failed_task_reason(state)
            outcome.add_failed(source, entity, reason)
            logger.error("source %s failed: %s", orch.source_key(source, entity), reason)
    logger.info("loaded %d of %d sources, %d rows", len(outcome.loaded), len(jobs), outcome.rows)
    return outcome


@task(task_run_name="check-warehouse-current")
def warehouse_fingerprint(as_of: date) -> dict[str, Any]:
    """The build fingerprint now and at the last complete build: equal means nothing to rebuild."""
    from warehouse.freshness import build_fingerprint, last_fingerprint

    with connect() as engine:
        return {"now": build_fingerprint(engine, as_of), "last": last_fingerprint(engine)}


@task(task_run_name="record-build")
def record_build(fingerprint: str) -> None:
    """Remember the inputs of the build that just completed (after marts, so a crash rebuilds)."""
    from warehouse.freshness import record_fingerprint

    with _slot(orch.WAREHOUSE_LIMIT), connect() as engine:
        record_fingerprint(engine, fingerprint)


@task(task_run_name="build-warehouse", timeout_seconds=orch.WAREHOUSE_STEP_TIMEOUT)
def build_warehouse(as_of: date) -> dict[str, Any]:
    """raw_* -> stg_* -> dim_*/fct_* in the warehouse engine."""
    logger = get_run_logger()
    with _slot(orch.WAREHOUSE_LIMIT), connect() as engine:
        report = build_staging(engine, BuildReport())
        build_core(engine, as_of=as_of, report=report)
    logger.info("staging: %d tables, %d rows; %d models without their source",
                len(report.staging), sum(report.staging.values()), len(report.missing_sources))
    logger.info("core: %s", report.core)
    return {"staging": report.staging, "core": report.core, "sources_not_loaded": report.missing_sources}


def _as_dict(summary: Any) -> dict[str, Any]:
    if hasattr(summary, "as_dict"):
        return dict(summary.as_dict())
    return {k: v for k, v in vars(summary).items() if k != "timings"}


@task(task_run_name="reconcile", timeout_seconds=orch.WAREHOUSE_STEP_TIMEOUT)
def reconcile_books(as_of: date, entity: str | None = None, incremental: bool = False) -> dict[str, Any]:
    """Cash application and payout matching: fct_match, exceptions, invoice state (decisions kept).

    ``incremental`` re-reconciles only what changed since the last run and what that can reach (the
    nightly); an entity never reconciled, or whose matching rules changed, still gets a full run.
    """
    from warehouse.reconcile import reconcile

    logger = get_run_logger()
    with _slot(orch.WAREHOUSE_LIMIT), connect() as engine:
        summary = _as_dict(reconcile(engine, as_of=as_of, entity=entity, incremental=incremental))
    logger.info("reconciliation%s (%s): %d payments in scope, matches %s, open exceptions %s",
                f" of {entity}" if entity else "", "incremental" if summary.get("incremental") else "full",
                summary.get("payments_in_scope", 0), summary.get("matches", {}), summary.get("exceptions", {}))
    return summary


@task(task_run_name="refresh-marts", timeout_seconds=orch.WAREHOUSE_STEP_TIMEOUT)
def refresh_marts(as_of: date) -> dict[str, int]:
    """Every mart_* as of ``as_of``, then the customers' segment and score in dim_customer.

    ``mart_factoring`` too, and the (empty, until used) tables the README names for rates and reminders: a finance
    user querying them after the first night got "table does not exist" instead of no rows."""
    from actions.dunning.schema import ensure_dunning_tables
    from actions.factoring.mart import MART as FACTORING_MART
    from actions.factoring.mart import build_mart_factoring
    from warehouse.marts import ensure_fx_rates
    from warehouse.marts import refresh_marts as refresh

    logger = get_run_logger()
    from warehouse.access import apply_access

    with _slot(orch.WAREHOUSE_LIMIT), connect() as engine:
        marts = refresh(engine, as_of=as_of)
        ensure_fx_rates(engine)
        ensure_dunning_tables(engine)
        marts[FACTORING_MART] = build_mart_factoring(engine, as_of)
        apply_access(engine)  # grants and row-level security on tables a build recreated (no-op on DuckDB)
    logger.info("marts: %s", marts)
    return marts


@task(task_run_name="export-lettrage-proposals", timeout_seconds=orch.WAREHOUSE_STEP_TIMEOUT)
def export_lettrage_proposals(as_of: date, out_dir: str, entity: str | None = None) -> dict[str, int]:
    """The matches each ERP lacks, one CSV per entity for it to import (lettrage codes, both sides' keys)."""
    from warehouse.reconcile import export_lettrage_proposals as export

    logger = get_run_logger()
    with connect(read_only=True) as engine:
        files = export(engine, out_dir, as_of, [entity] if entity else None)
    logger.info("lettrage proposals: %s", ", ".join(f"{e} {n} rows ({p})" for e, (p, n) in files.items()) or "none")
    return {e: n for e, (_, n) in files.items()}


@task(task_run_name="render-reports", timeout_seconds=orch.WAREHOUSE_STEP_TIMEOUT)
def render_reports(as_of: date, out_dir: str) -> list[str]:
    """One HTML report per entity and the Excel workbook (one sheet per mart)."""
    from pathlib import Path

    from reports import render_reports as render

    logger = get_run_logger()
    with connect(read_only=True) as engine:
        files = render(engine, Path(out_dir), as_of)
    paths = [str(p) for p in files.html.values()] + ([str(files.workbook)] if files.workbook else [])
    logger.info("reports written: %s", paths)
    return paths
