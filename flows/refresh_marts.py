"""Refresh the marts only: what finance reads, recomputed as of a date from the current canonical tables."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from flows.params import run_namer
from flows.steps import refresh_marts as refresh_marts_task
from lettrage import orchestration as orch


@flow(name="refresh-marts", flow_run_name=run_namer("marts", None))
def refresh_marts(as_of: date | None = None) -> dict[str, Any]:
    """Recompute every mart_* (aged balance, DSO, forecast…) as of a date, without loading or reconciling.

    Args:
        as_of: Reporting date. Empty means today (Paris time).
    """
    as_of = as_of or orch.today()
    return {"as_of": as_of.isoformat(), "marts": refresh_marts_task(as_of)}
