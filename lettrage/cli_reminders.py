"""``lettrage reminders …``: today's reminders for people (a typer app the main CLI mounts).

Thin: every command calls ``actions.dunning`` or ``flows.reminders``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Reminders (relances): list or send today's reminders, exactly once.", no_args_is_help=True)
console = Console()


def _date(value: str | None) -> date:
    return datetime.strptime(value, "%Y-%m-%d").date() if value else date.today()


@app.command("list")
def list_(entity: Annotated[list[str] | None, typer.Option("--entity", "-e")] = None,
          as_of: Annotated[str | None, typer.Option("--as-of")] = None,
          all_rows: Annotated[bool, typer.Option("--all", help="Also list skipped invoices.")] = False) -> None:
    """Dry run: what would be sent today, with step and reason (reads only)."""
    from actions.dunning.demo import print_dry_run

    print_dry_run(entity, _date(as_of), show_skipped=all_rows, console=console)


@app.command()
def send(entity: Annotated[list[str] | None, typer.Option("--entity", "-e")] = None,
         as_of: Annotated[str | None, typer.Option("--as-of")] = None) -> None:
    """Send today's reminders through the outbox (SMTP settings from DUNNING__SMTP__*)."""
    from flows.reminders import reminders

    result = reminders(entities=entity, as_of=_date(as_of), dry_run=False)
    table = Table("entity", "messages", "sent", "failed")
    for code, r in result.items():
        s = r["summary"]
        table.add_row(code, str(s["messages"]), str(s["sent"]), str(s["failed"]))
    console.print(table)
