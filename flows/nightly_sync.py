"""The nightly sync, as a runbook.

1. Load every configured source of every entity (one task each; a failing source
   does not stop the others, and what loaded is kept).
2. Build staging and the canonical model.
3. Reconcile what changed since the last night and what it can reach (incremental; confirmed and
   rejected matches are decisions and survive).
4. Refresh the marts and render the reports.
   (Steps 2-4 are skipped when their inputs — loads, decisions, mappings, the date — are
   exactly those of the last complete build: they would produce the same rows.)
5. Publish rows loaded, match rate, new exceptions and the receivables as artifacts.
The run ends Failed, naming the failed sources, if any source failed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger

from connectors.registry import load_sources_config
from flows.artifacts import publish_run_artifacts
from flows.params import EntityCode, SourceName, as_codes, run_namer
from flows.steps import (
    build_warehouse,
    export_lettrage_proposals,
    load_sources,
    reconcile_books,
    record_build,
    refresh_marts,
    render_reports,
    warehouse_fingerprint,
)
from lettrage import orchestration as orch
from lettrage.errors import SourceError


class SyncFailed(SourceError):
    """One or more sources failed; the rest of the run completed and was kept."""


@flow(name="nightly-sync", flow_run_name=run_namer("nightly"), log_prints=False)
def nightly_sync(
    entities: list[EntityCode] | None = None,
    sources: list[SourceName] | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Sync, reconcile and refresh the marts for the configured entities and sources.

    Args:
        entities: Entities to sync. Empty means every entity of the sources file.
        sources: Sources to load. Empty means every source configured for the entity.
        as_of: Reporting date of the marts. Empty means the day the run starts (Paris time).
    """
    logger = get_run_logger()
    started_at = datetime.now(UTC)
    as_of = as_of or orch.today()  # computed per run, never at import
    jobs = load_sources_config().jobs(as_codes(entities), as_codes(sources))
    logger.info("nightly sync of %d sources as of %s: %s", len(jobs), as_of,
                ", ".join(orch.source_key(s, e) for e, s in jobs))

    outcome = load_sources(jobs)
    fingerprint = warehouse_fingerprint(as_of)
    if fingerprint["now"] == fingerprint["last"]:
        logger.info("nothing new since the last complete build as of %s: warehouse, matches and marts are current", as_of)
        build, reconciliation, marts, reports = {"skipped": "current"}, {"skipped": "current"}, {}, []
        proposals: dict[str, int] = {}
    else:
        build = build_warehouse(as_of)
        # (incremental: the night's cost follows the day's changes, not the book's history; the first
        # night, or one after the matching rules changed, is a full run all the same)
        reconciliation = reconcile_books(as_of, incremental=True)
        marts = refresh_marts(as_of)
        reports = render_reports(as_of, str(orch.reports_dir()))
        proposals = export_lettrage_proposals(as_of, str(orch.proposals_dir()))
        record_build(fingerprint["now"])
    summary = {"as_of": as_of.isoformat(), "started_at": started_at.isoformat(), "loaded": outcome.loaded,
               "failed": outcome.failed, "build": build, "reconciliation": reconciliation, "marts": marts,
               "reports": reports, "lettrage_proposals": proposals}
    publish_run_artifacts("nightly", summary, since=started_at)
    if not outcome.ok:
        raise SyncFailed(outcome.failure_message())
    return summary
