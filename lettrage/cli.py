"""The ``lettrage`` command: the same entry points as the flows, for people.

Every command is a thin call into flows or warehouse functions; nothing here
holds logic of its own. Without ``PREFECT_API_URL`` Prefect starts a temporary
local server for the run, so no setup is needed.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

app = typer.Typer(
    help="Lettrage — pull invoices and payments, reconcile them, and serve finance the receivables picture.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

EntityOpt = Annotated[list[str] | None, typer.Option("--entity", "-e", help="Entity code (e.g. FR01); repeat for several. Default: all.")]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", "-s", help="Source (sage_fec, sap_export, camt053, stripe, gocardless); repeat. Default: all configured.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Reporting date YYYY-MM-DD (default: today).")]
SourcesFileOpt = Annotated[Path | None, typer.Option("--sources-file", help="Sources configuration (default: ./sources.yaml or $LETTRAGE__SOURCES_FILE).")]


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a date in YYYY-MM-DD form") from exc


def _use_sources_file(path: Path | None) -> None:
    if path is not None:
        os.environ["LETTRAGE__SOURCES_FILE"] = str(path.resolve())


@app.command()
def sync(entity: EntityOpt = None, source: SourceOpt = None, as_of: AsOfOpt = None,
         sources_file: SourcesFileOpt = None) -> None:
    """Run the nightly sync now: load sources, reconcile, refresh the marts, then print the headline figures."""
    from flows.nightly_sync import nightly_sync

    _use_sources_file(sources_file)
    state = nightly_sync(entities=entity, sources=source, as_of=_date(as_of), return_state=True)
    print_headline()
    if not state.is_completed():
        console.print(f"[bold red]Sync finished with failures:[/] {state.message}")
        raise typer.Exit(code=1)


@app.command()
def backfill(
    start: Annotated[str, typer.Option("--from", help="First day of the window, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day of the window, YYYY-MM-DD.")],
    entity: EntityOpt = None, source: SourceOpt = None, sources_file: SourcesFileOpt = None,
) -> None:
    """Re-pull a date window from the sources and re-reconcile it (confirmed matches are kept)."""
    from flows.backfill import backfill as backfill_flow

    _use_sources_file(sources_file)
    state = backfill_flow(start=_date(start), end=_date(end), entities=entity, sources=source, return_state=True)
    print_headline()
    if not state.is_completed():
        console.print(f"[bold red]Backfill finished with failures:[/] {state.message}")
        raise typer.Exit(code=1)


@app.command()
def reconcile(as_of: AsOfOpt = None) -> None:
    """Rebuild the canonical tables from what is loaded and reconcile again (no source is read)."""
    from flows.reconcile import reconcile as reconcile_flow

    reconcile_flow(as_of=_date(as_of))
    print_headline()


@app.command()
def report() -> None:
    """Print the headline figures from the warehouse: matches, open receivables, aged balance."""
    print_headline()


@app.command()
def sql(query: Annotated[str, typer.Argument(help="A SQL query against the warehouse dataset.")]) -> None:
    """Run a read-only SQL query against the warehouse and print the result."""
    from warehouse.engine import connect

    with connect(read_only=True) as engine:
        rows = engine.query_dicts(query)
    table = Table(show_lines=False)
    for col in rows[0].keys() if rows else []:
        table.add_column(col)
    for row in rows[:500]:
        table.add_row(*["" if v is None else str(v) for v in row.values()])
    console.print(table)
    console.print(f"{len(rows)} row(s)")


def print_headline() -> None:
    """What finance wants to see first, read from the warehouse."""
    from warehouse.engine import connect
    from warehouse.summary import aged_balance, fmt_money, match_stats, open_receivables, table_counts

    with connect(read_only=True) as engine:
        counts = table_counts(engine, ["dim_customer", "fct_invoice", "fct_payment", "fct_payout", "fct_bank_line",
                                       "fct_match", "fct_reconciliation_exception"])
        stats = match_stats(engine) if engine.table_exists("fct_match") else []
        encours = open_receivables(engine) if engine.table_exists("mart_open_receivables") else []
        aged = aged_balance(engine) if engine.table_exists("mart_aged_balance") else []

    t = Table(title="Warehouse", title_justify="left")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in counts.items():
        t.add_row(name, f"{n:,}")
    console.print(t)

    t = Table(title="Payments matched", title_justify="left")
    for col in ("entity", "payments", "matched", "rate", "suggested", "open exceptions"):
        t.add_column(col, justify="left" if col == "entity" else "right")
    for s in stats:
        rate = s["matched"] / s["payments"] * 100 if s["payments"] else 0.0
        t.add_row(s["entity"], f"{s['payments']:,}", f"{s['matched']:,}", f"{rate:.1f}%", f"{s['suggested']:,}",
                  f"{s['open_exceptions']:,}")
    console.print(t)

    t = Table(title="Open receivables (encours)", title_justify="left")
    for col in ("entity", "cur", "not due", "overdue", "partially paid", "disputed", "total"):
        t.add_column(col, justify="left" if col in ("entity", "cur") else "right")
    for r in encours:
        t.add_row(r["entity"], r["currency"], fmt_money(r["not_due"]), fmt_money(r["overdue"]),
                  fmt_money(r["partially_paid"]), fmt_money(r["disputed"]), fmt_money(r["total"]))
    console.print(t)

    t = Table(title="Aged balance (balance âgée)", title_justify="left")
    for col in ("entity", "cur", "not due", "1-30", "31-60", "61-90", ">90", "total"):
        t.add_column(col, justify="left" if col in ("entity", "cur") else "right")
    for r in aged:
        t.add_row(r["entity"], r["currency"], fmt_money(r["not_due"]), fmt_money(r["d1_30"]), fmt_money(r["d31_60"]),
                  fmt_money(r["d61_90"]), fmt_money(r["over_90"]), fmt_money(r["total"]))
    console.print(t)


if __name__ == "__main__":
    app()
