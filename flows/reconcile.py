"""Reconcile only: rebuild the canonical model from loaded data, reconcile, refresh the marts,
write the lettrage proposals for the ERPs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow

from flows.artifacts import publish_run_artifacts
from flows.params import EntityCode, run_namer
from flows.steps import build_warehouse, export_lettrage_proposals, reconcile_books, refresh_marts
from lettrage import orchestration as orch


@flow(name="reconcile", flow_run_name=run_namer("reconcile", "entity"))
def reconcile(as_of: date | None = None, entity: EntityCode | None = None) -> dict[str, Any]:
    """Rebuild the canonical model from what is loaded, reconcile and refresh the marts (no source is read).

    Args:
        as_of: Reporting date. Empty means the day the run starts (Paris time).
        entity: Entity to reconcile. Empty means every entity in the warehouse.
    """
    started_at = datetime.now(UTC)
    as_of = as_of or orch.today()
    build = build_warehouse(as_of)
    reconciliation = reconcile_books(as_of, entity=entity)
    marts = refresh_marts(as_of)
    proposals = export_lettrage_proposals(as_of, str(orch.proposals_dir()), entity)
    summary = {"as_of": as_of.isoformat(), "build": build, "reconciliation": reconciliation, "marts": marts,
               "lettrage_proposals": proposals}
    publish_run_artifacts("reconcile", summary, since=started_at)
    return summary
