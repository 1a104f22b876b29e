"""Backfill: re-pull a date window of some sources, then rebuild and re-reconcile.

Re-pulling is safe: raw tables merge on their keys, dlt's bounded window does
not move the nightly cursor, and confirmed/rejected matches are decisions that
reconciliation never overwrites. File sources have no window: they read what
is dropped (files already loaded are skipped by hash); ``reread_statements``
reads every bank statement again, to restore lines lost from the raw table.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from connectors.registry import load_sources_config
from flows.artifacts import publish_run_artifacts
from flows.nightly_sync import SyncFailed
from flows.params import EntityCode, SourceName, as_codes
from flows.steps import build_warehouse, load_sources, reconcile_books, refresh_marts
from lettrage import orchestration as orch


def _run_name() -> str:
    p = flow_run.parameters or {}
    start, end = orch.backfill_window(p.get("start"), p.get("end"), today_=orch.today())
    return orch.run_name("backfill", as_codes(p.get("entity")), f"{start}..{end}")


@flow(name="backfill", flow_run_name=_run_name)
def backfill(
    entity: EntityCode | None = None,
    sources: list[SourceName] | None = None,
    start: date | None = None,
    end: date | None = None,
    as_of: date | None = None,
    reread_statements: bool = False,
) -> dict[str, Any]:
    """Re-pull [start, end] from the chosen sources of one entity (or all) and re-reconcile.

    Args:
        entity: Entity to backfill. Empty means every entity of the sources file.
        sources: Sources to re-pull. Empty means every source configured for the entity.
        start: First day of the window (inclusive). Empty means 7 days before the end.
        end: Last day of the window (inclusive). Empty means today (Paris time).
        as_of: Date the statuses, ageing and marts are computed as of. Empty means today, as the nightly sync.
        reread_statements: Read every camt.053 statement of the chosen sources again, those loaded before too (bank
            lines lost from the raw table come back; ERP exports are read again only when dropped again).
    """
    logger = get_run_logger()
    started_at = datetime.now(UTC)
    today = as_of or orch.today()
    start, end = orch.backfill_window(start, end, today_=today)
    entities = as_codes(entity)
    jobs = load_sources_config().jobs(entities, as_codes(sources))
    logger.info("backfilling %s..%s for %s", start, end, ", ".join(orch.source_key(s, e) for e, s in jobs))

    outcome = load_sources(jobs, start=start, end=end, reread_statements=reread_statements)
    build = build_warehouse(today)
    reconciliation = reconcile_books(today, entity=entities[0] if entities and len(entities) == 1 else None)
    marts = refresh_marts(today)
    summary = {"as_of": today.isoformat(), "started_at": started_at.isoformat(),
               "window": [start.isoformat(), end.isoformat()], "loaded": outcome.loaded, "failed": outcome.failed,
               "build": build, "reconciliation": reconciliation, "marts": marts}
    publish_run_artifacts("backfill", summary, since=started_at)
    if not outcome.ok:
        raise SyncFailed(outcome.failure_message())
    return summary
