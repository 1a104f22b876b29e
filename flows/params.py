"""Parameter types of the flows, so the Prefect UI offers choices instead of free text.

Entity codes come from ``mappings/entities.yaml`` (and the sources file, if
present) and source names from the
connector registry when the flows are imported (i.e. at ``prefect deploy``):
adding an entity or a connector is a data change, and redeploying refreshes the
UI's drop-downs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from prefect.runtime import flow_run

from connectors.registry import ALL_SOURCES
from lettrage import orchestration as orch
from lettrage.terminal import known_entities

ENTITY_CODES: tuple[str, ...] = tuple(sorted(known_entities()))  # (the CLI checks --entity against the same)
SOURCE_NAMES: tuple[str, ...] = tuple(ALL_SOURCES)

EntityCode: Any = Literal[ENTITY_CODES]  # type: ignore[valid-type]   # a drop-down in the UI
SourceName: Any = Literal[SOURCE_NAMES]  # type: ignore[valid-type]


def as_codes(values: list[Any] | tuple[Any, ...] | str | None) -> list[str] | None:
    """Plain strings (or None for "all"), whatever the caller passed: a code, a list, enums."""
    if values is None or values == [] or values == ():
        return None
    if isinstance(values, str):
        return [values]
    return [str(getattr(v, "value", v)) for v in values]


def run_namer(kind: str, entities_param: str | None = "entities") -> Callable[[], str]:
    """A flow's ``flow_run_name``, ``nightly-FR01-2026-11-22``: what ran, for whom, for which day, read from the
    run's own parameters (the entities in ``entities_param``, ``as_of``), so a run started from the UI or a
    schedule is named like one started from the CLI. ``entities_param=None``: the flow is not per entity."""
    def name() -> str:
        p = flow_run.parameters or {}
        who = as_codes(p.get(entities_param)) if entities_param else None
        return orch.run_name(kind, who, p.get("as_of") or orch.today())
    return name
