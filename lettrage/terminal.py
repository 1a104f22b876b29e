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
