"""Prefect tasks: one per source or warehouse step, never per record.

Each task is a thin wrapper over a plain function of ``connectors/`` or
``warehouse/`` (tests call those directly). Retries live on the tasks that
touch networks; load steps are never cached (dlt keeps incremental state).
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from prefect import get_run_logger, task

from connectors.registry import API_SOURCES, build_job, load_sources_config
from warehouse.build import BuildReport, build_core, build_marts, build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline


@task(task_run_name="load-{source}-{entity}", timeout_seconds=3 * 3600)
def load_source(entity: str, source: str, start: date | None = None, end: date | None = None) -> dict[str, Any]:
    """Extract and load one source of one entity into ``raw_*``."""
    logger = get_run_logger()
    started = time.monotonic()
    job = build_job(load_sources_config(), entity, source, start=start, end=end)
    result = run_pipeline(job.pipeline_name, job.dlt_source)
    elapsed = time.monotonic() - started
    quarantined = result.rows.get("raw_quarantine", 0)
    logger.info(
        "%s/%s: %d rows into %d tables in %.1fs (%d quarantined)",
        source, entity, result.total_rows, len(result.rows), elapsed, quarantined,
    )
    return {"entity": entity, "source": source, "rows": result.total_rows, "tables": result.rows,
            "quarantined": quarantined, "seconds": round(elapsed, 2)}


def with_network_retries(source: str) -> Any:
    """API sources get task retries with backoff on top of the connector's own per-request retries."""
    if source in API_SOURCES:
        return load_source.with_options(retries=2, retry_delay_seconds=[30, 120], retry_jitter_factor=0.5)
    return load_source


@task(task_run_name="build-warehouse")
def build_warehouse(as_of: date) -> dict[str, Any]:
    """raw_* -> stg_* -> dim_*/fct_* in the warehouse engine."""
    logger = get_run_logger()
    with connect() as engine:
        report = build_staging(engine, BuildReport())
        build_core(engine, as_of=as_of, report=report)
    logger.info("staging: %s", report.staging)
    logger.info("core: %s", report.core)
    return {"staging": report.staging, "core": report.core, "sources_not_loaded": report.missing_sources}


@task(task_run_name="reconcile")
def reconcile_books(as_of: date, entity: str | None = None) -> dict[str, Any]:
    """Cash application and payout matching: fct_match, exceptions, invoice state."""
    from warehouse.reconcile import reconcile

    logger = get_run_logger()
    with connect() as engine:
        summary = reconcile(engine, as_of=as_of, entity=entity)
    as_dict = summary.as_dict() if hasattr(summary, "as_dict") else dict(vars(summary))
    logger.info("reconciliation: %s", as_dict)
    return as_dict


@task(task_run_name="refresh-marts")
def refresh_marts(as_of: date) -> dict[str, int]:
    logger = get_run_logger()
    with connect() as engine:
        report = build_marts(engine, as_of=as_of)
    logger.info("marts: %s", report.marts)
    return report.marts
