"""Backfill: re-pull a date window for some entities and sources, then rebuild and reconcile.

Confirmed and rejected matches are decisions and survive (reconciliation never
overwrites them); the incremental state of the nightly sync is not moved.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger

from connectors.registry import load_sources_config
from flows.artifacts import publish_sync_artifacts
from flows.nightly_sync import SyncFailed
from flows.steps import build_warehouse, reconcile_books, refresh_marts, with_network_retries


@flow(name="backfill", flow_run_name="backfill-{start}-{end}")
def backfill(
    start: date,
    end: date,
    entities: list[str] | None = None,
    sources: list[str] | None = None,
) -> dict[str, Any]:
    """Re-pull [start, end] from the chosen sources and re-reconcile.

    Args:
        start: First day of the window to re-pull (inclusive).
        end: Last day of the window to re-pull (inclusive).
        entities: Entity codes to backfill, e.g. ["FR01"]. Empty means every configured entity.
        sources: Sources to re-pull: sage_fec, sap_export, camt053, stripe, gocardless. Empty means all configured.
    """
    logger = get_run_logger()
    if end < start:
        raise ValueError(f"backfill window ends ({end}) before it starts ({start})")
    jobs = load_sources_config().jobs(entities, sources)
    logger.info("backfilling %s..%s for %s", start, end, jobs)
    loaded: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    for entity, source in jobs:
        state = with_network_retries(source)(entity, source, start=start, end=end, return_state=True)
        if state.is_completed():
            loaded.append(state.result())
        else:
            failed[f"{source}/{entity}"] = str(state.message or state.name)
    as_of = date.today()
    build = build_warehouse(as_of)
    reconciliation = reconcile_books(as_of)
    marts = refresh_marts(as_of)
    summary = {"as_of": as_of.isoformat(), "window": [start.isoformat(), end.isoformat()], "loaded": loaded,
               "failed": failed, "build": build, "reconciliation": reconciliation, "marts": marts}
    publish_sync_artifacts(summary)
    if failed:
        raise SyncFailed(f"{len(failed)} source(s) failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return summary
