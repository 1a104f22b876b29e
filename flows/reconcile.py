"""Reconcile only: rebuild the canonical model from loaded data, reconcile, refresh the marts."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from flows.steps import build_warehouse, reconcile_books, refresh_marts


@flow(name="reconcile")
def reconcile(as_of: date | None = None) -> dict[str, Any]:
    """Rebuild the canonical model from loaded data, reconcile and refresh the marts.

    Args:
        as_of: Reporting date. Empty means the day the run starts.
    """
    as_of = as_of or date.today()
    build = build_warehouse(as_of)
    reconciliation = reconcile_books(as_of)
    marts = refresh_marts(as_of)
    return {"as_of": as_of.isoformat(), "build": build, "reconciliation": reconciliation, "marts": marts}
