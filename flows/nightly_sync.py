"""The nightly sync, as a runbook.

1. Load every configured source of every entity (one task each; a failing source
   does not stop the others, and what loaded is kept).
2. Build staging and the canonical model.
3. Reconcile.
4. Refresh the marts.
5. Publish the headline figures as artifacts.
The run ends Failed, naming the failed sources, if any source failed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from connectors.registry import load_sources_config
from flows.artifacts import publish_sync_artifacts
from flows.steps import build_warehouse, reconcile_books, refresh_marts, with_network_retries
from lettrage.errors import SourceError


class SyncFailed(SourceError):
    """One or more sources failed; the rest of the run completed."""


def _run_name() -> str:
    params = flow_run.parameters or {}
    as_of = params.get("as_of") or date.today().isoformat()
    entities = params.get("entities") or ["all"]
    return f"nightly-{'-'.join(entities)}-{as_of}"


@flow(name="nightly-sync", flow_run_name=_run_name, log_prints=False)
def nightly_sync(
    entities: list[str] | None = None,
    sources: list[str] | None = None,
    as_of: date | None = None,
) -> dict[str, Any]:
    """Sync, reconcile and refresh the marts for the configured entities and sources.

    Args:
        entities: Entity codes to sync, e.g. ["FR01", "DE01"]. Empty means every configured entity.
        sources: Sources to load: sage_fec, sap_export, camt053, stripe, gocardless. Empty means all configured.
        as_of: Reporting date of the marts. Empty means the day the run starts.
    """
    logger = get_run_logger()
    as_of = as_of or date.today()  # computed per run, never at import
    jobs = load_sources_config().jobs(entities, sources)
    logger.info("syncing %d sources as of %s: %s", len(jobs), as_of, jobs)

    loaded: list[dict[str, Any]] = []
    failed: dict[str, str] = {}
    for entity, source in jobs:
        state = with_network_retries(source)(entity, source, return_state=True)
        if state.is_completed():
            loaded.append(state.result())
        else:
            failed[f"{source}/{entity}"] = str(state.message or state.name)
            logger.error("source %s/%s failed: %s", source, entity, state.message)

    build = build_warehouse(as_of)
    reconciliation = reconcile_books(as_of)
    marts = refresh_marts(as_of)
    summary = {"as_of": as_of.isoformat(), "loaded": loaded, "failed": failed, "build": build,
               "reconciliation": reconciliation, "marts": marts}
    publish_sync_artifacts(summary)
    if failed:
        raise SyncFailed(f"{len(failed)} source(s) failed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return summary
