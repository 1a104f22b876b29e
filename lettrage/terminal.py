"""The rich consoles of the CLI and the demo, one place that decides their width.

Why: off a terminal (a CI log, ``scripts/demo > demo.log``, a cron mail) rich falls back
to 80 columns and cuts the amounts of the wider tables (encours with its unapplied-cash
columns, the aged balance) to "213,3…". A figure finance cannot read is worse than a long
line, so off a terminal, and unless ``COLUMNS`` says otherwise, the tables get room.
"""

from __future__ import annotations

import os
import sys
from datetime import date, datetime

from rich.console import Console

WIDTH_OFF_TERMINAL = 160


def make_console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or :data:`WIDTH_OFF_TERMINAL` columns when writing elsewhere."""
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, width=WIDTH_OFF_TERMINAL if wide else None)


def require_warehouse(console: Console) -> None:
    """For a command that only reads: stop with a clear message (exit 2) when there is no warehouse to read."""
    import typer

    from warehouse.engine import WarehouseMissing
    from warehouse.engine import require_warehouse as check

    try:
        check()
    except WarehouseMissing as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(code=2) from None


def parse_day(value: str | None) -> date | None:
    """A command line's YYYY-MM-DD option as a date (None when not given), or typer's own error naming the value:
    every command refuses ``2026-02-30`` or ``22/11/2026`` alike instead of one of them ending in a traceback."""
    import typer

    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from exc


def known_entities() -> set[str]:
    """The entity codes this installation knows: ``mappings/entities.yaml`` (or its override) and the sources file,
    when one is readable here (as the flows' drop-downs list them)."""
    from mappings.entities import load_entities

    codes = set(load_entities().codes())
    try:
        from connectors.registry import load_sources_config

        codes |= set(load_sources_config().entities)
    except Exception:  # noqa: BLE001 - no sources file here: the mappings suffice
        pass
    return codes


def check_entities(values: list[str] | None) -> list[str] | None:
    """``--entity`` values upper-cased and checked against :func:`known_entities` (typer's callback): a typo
    (``XX01``) was taken as an entity with nothing to do, printed empty tables, wrote an empty proposal file and
    exited 0."""
    import typer

    if not values:
        return values
    codes = [v.strip().upper() for v in values]
    known = known_entities()
    unknown = [c for c in codes if c not in known and c != "*"]
    if unknown and known:
        raise typer.BadParameter(f"unknown entity {', '.join(unknown)}: this installation knows "
                                 f"{', '.join(sorted(known))} (mappings/entities.yaml and the sources file)")
    return codes


def check_entity(value: str | None) -> str | None:
    """:func:`check_entities` for an option that takes one entity."""
    checked = check_entities([value] if value else None)
    return checked[0] if checked else value
