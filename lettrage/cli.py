"""The ``lettrage`` command: the same entry points as the flows, for people.

Every command is a thin call into flows or warehouse functions; nothing here
holds logic of its own. Without ``PREFECT_API_URL`` Prefect starts a temporary
local server for the run, so no setup is needed.

Long runs show live progress per source on a terminal (``lettrage.progress``),
plain log lines when piped or with ``--quiet``, and a summary table at the end.
Ctrl-C stops cleanly (exit code 130); what was loaded is kept and the next run
resumes from dlt's committed state.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from connectors.registry import ALL_SOURCES
from lettrage.terminal import check_entities, check_entity, make_console, parse_day, require_warehouse

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# Prefect's temporary server may take longer than its default 20 s to start on a busy machine.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

app = typer.Typer(
    help="Lettrage — pull invoices and payments, reconcile them, and serve finance the receivables picture.",
    no_args_is_help=True,
    add_completion=False,
)
console = make_console()

EntityOpt = Annotated[list[str] | None, typer.Option("--entity", "-e", help="Entity code (e.g. FR01); repeat for several. Default: all.")]
# (checked against the known entities where no --sources-file option could add one: not for sync and backfill)
KnownEntityOpt = Annotated[list[str] | None, typer.Option("--entity", "-e", callback=check_entities,
                                                           help="Entity code (e.g. FR01); repeat for several. Default: all.")]
SourceOpt = Annotated[list[str] | None, typer.Option("--source", "-s", help="Source (" + ", ".join(ALL_SOURCES) + "); repeat. Default: all configured.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Reporting date YYYY-MM-DD (default: today).")]
SourcesFileOpt = Annotated[Path | None, typer.Option("--sources-file", help="Sources configuration (default: ./sources.yaml or $LETTRAGE__SOURCES_FILE).")]


_date = parse_day


def _use_sources_file(path: Path | None) -> None:
    if path is not None:
        os.environ["LETTRAGE__SOURCES_FILE"] = str(path.resolve())


QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Plain log lines only: no live display, Prefect's own logs at WARNING.")]
EXIT_INTERRUPTED = 130
INTERRUPT_GRACE_SECONDS = 10.0
RESUME_HINT = "what was loaded is kept; run the same command again to resume where it stopped."


def _stop_now(title: str) -> None:
    """Last resort after Ctrl-C: Prefect could not report the crash in time (its temporary server got the
    same Ctrl-C and is gone), so leave now; dlt committed every finished load with its state."""
    console.print(f"[bold yellow]Interrupted.[/] {title} stopped; {RESUME_HINT}")
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _guard_interrupts(title: str) -> Callable[[], None]:
    """First Ctrl-C: stop the run (KeyboardInterrupt) and give Prefect a few seconds to record it;
    second Ctrl-C, or the grace period over: exit 130 at once. Returns a function restoring the old handler."""
    hits = {"n": 0}

    def handler(signum: int, frame: Any) -> None:
        hits["n"] += 1
        if hits["n"] > 1:
            _stop_now(title)
        console.print("[yellow]Ctrl-C: stopping…[/] (again to stop at once)")
        timer = threading.Timer(INTERRUPT_GRACE_SECONDS, _stop_now, args=(title,))
        timer.daemon = True
        timer.start()
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, handler)

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    return restore


def _quiet_prefect_console(quiet: bool) -> None:
    """Keep Prefect's console handlers to warnings so they do not tear the live display (the API still gets all).

    Must run before Prefect is imported: it reads its logging settings once."""
    if not (quiet or console.is_terminal):
        return
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_FLOW_RUNS_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_TASK_RUNS_LEVEL", "WARNING")


def _run_with_progress(title: str, call: Callable[[], Any], quiet: bool) -> Any:
    """Run a flow with a live display (terminal) or plain lines (pipe, --quiet); Ctrl-C exits 130."""
    from lettrage.progress import BOARD, PlainRenderer, RichRenderer

    live = console.is_terminal and not quiet
    BOARD.reset()
    renderer: Any = RichRenderer(console) if live else PlainRenderer(sys.stderr, quiet=quiet)
    BOARD.attach(renderer)
    restore = _guard_interrupts(title)
    started = time.monotonic()
    try:
        if live:
            with renderer:
                state = call()
        else:
            state = call()
    except KeyboardInterrupt:
        BOARD.detach(renderer)
        _print_source_summary(title, time.monotonic() - started)
        console.print(f"[bold yellow]Interrupted.[/] {title} stopped; {RESUME_HINT}")
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    finally:
        restore()
        BOARD.detach(renderer)
    _print_source_summary(title, time.monotonic() - started)
    return state


def _print_source_summary(title: str, seconds: float) -> None:
    from lettrage.progress import BOARD

    items = BOARD.snapshot()
    if not items:
        return
    t = Table(title=f"{title}: sources ({seconds:.1f}s)", title_justify="left")
    for col in ("source", "status", "pages", "rows", "rows/s", "seconds", "detail"):
        t.add_column(col, justify="right" if col in ("pages", "rows", "rows/s", "seconds") else "left")
    for s in items:
        status = {"done": "[green]loaded[/]", "failed": "[red]FAILED[/]"}.get(s.status, s.status)
        t.add_row(s.key, status, f"{s.pages:,}", f"{s.rows:,}", f"{s.rows_per_second():,.0f}",
                  f"{s.elapsed():.1f}", escape(s.message or ""))  # ("[sources.stripe.FR01]" is no markup)
    console.print(t)


def _finish(state: Any, what: str) -> None:
    print_headline()
    if not state.is_completed():
        console.print(f"[bold red]{what} finished with failures:[/] {state.message}")
        raise typer.Exit(code=1)


@app.command()
def sync(entity: EntityOpt = None, source: SourceOpt = None, as_of: AsOfOpt = None,
         sources_file: SourcesFileOpt = None, quiet: QuietOpt = False) -> None:
    """Run the nightly sync now: load sources, reconcile, refresh the marts, then print the headline figures."""
    _quiet_prefect_console(quiet)
    _use_sources_file(sources_file)
    from flows.nightly_sync import nightly_sync

    day = _date(as_of)
    state = _run_with_progress(
        "Sync", lambda: nightly_sync(entities=entity, sources=source, as_of=day, return_state=True), quiet)
    _finish(state, "Sync")


@app.command()
def backfill(
    start: Annotated[str, typer.Option("--from", help="First day of the window, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day of the window, YYYY-MM-DD.")],
    entity: Annotated[str | None, typer.Option("--entity", "-e", help="Entity code (e.g. FR01). Default: all.")] = None,
    source: SourceOpt = None, sources_file: SourcesFileOpt = None, quiet: QuietOpt = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Date the statuses and marts are computed as of, "
                                              "YYYY-MM-DD (default: today, as the nightly sync).")] = None,
    reread_statements: Annotated[bool, typer.Option(
        "--reread-statements", help="Read every camt.053 statement again, those loaded before too (restores bank "
        "lines lost from the raw table; ERP exports are read again only when dropped again).")] = False,
) -> None:
    """Re-pull a date window from the sources and re-reconcile it (confirmed matches are kept)."""
    _quiet_prefect_console(quiet)
    _use_sources_file(sources_file)
    from flows.backfill import backfill as backfill_flow

    window = (_date(start), _date(end))
    state = _run_with_progress(
        "Backfill",
        lambda: backfill_flow(entity=entity, sources=source, start=window[0], end=window[1], as_of=_date(as_of),
                              reread_statements=reread_statements, return_state=True), quiet)
    _finish(state, "Backfill")


@app.command()
def reconcile(as_of: AsOfOpt = None,
              entity: Annotated[str | None, typer.Option("--entity", "-e", callback=check_entity,
                                                         help="Entity code. Default: all.")] = None,
              quiet: QuietOpt = False) -> None:
    """Rebuild the canonical tables from what is loaded and reconcile again (no source is read)."""
    _quiet_prefect_console(quiet)
    from flows.reconcile import reconcile as reconcile_flow

    day = _date(as_of)
    state = _run_with_progress("Reconcile", lambda: reconcile_flow(as_of=day, entity=entity, return_state=True),
                               quiet)
    _finish(state, "Reconcile")


@app.command()
def limits(
    netsuite: Annotated[int, typer.Option(help="Concurrent NetSuite loads (account-wide limit).")] = 1,
    sage_accounting: Annotated[int, typer.Option(help="Concurrent Sage Accounting loads.")] = 2,
    sap_b1: Annotated[int, typer.Option(help="Concurrent SAP Business One loads.")] = 2,
    stripe: Annotated[int, typer.Option(help="Concurrent Stripe loads.")] = 4,
    gocardless: Annotated[int, typer.Option(help="Concurrent GoCardless loads.")] = 2,
) -> None:
    """Create or update the Prefect global concurrency limits the flows hold (per source, and the warehouse)."""
    from lettrage.orchestration import ensure_concurrency_limits

    done = ensure_concurrency_limits({"netsuite": netsuite, "sage_accounting": sage_accounting, "sap_b1": sap_b1,
                                      "stripe": stripe, "gocardless": gocardless})
    t = Table(title="Prefect global concurrency limits", title_justify="left")
    t.add_column("limit")
    t.add_column("result")
    for name, what in done.items():
        t.add_row(name, what)
    console.print(t)


@app.command()
def report(
    out: Annotated[Path | None, typer.Option("--out", help="Also write the HTML report per entity and the Excel workbook here.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="The date the figures must be as of, YYYY-MM-DD "
                                              "(default: the date of the last sync, backfill or reconcile).")] = None,
) -> None:
    """Print the headline figures from the warehouse; with --out, write the HTML reports and the workbook too.

    The figures are those of the last sync, backfill or reconcile, as of its date: asked for another date,
    the command says so and stops (run `lettrage reconcile --as-of DATE` first) rather than print them."""
    wanted = _date(as_of)  # (a bad date is refused before anything else is looked at)
    require_warehouse(console)
    from warehouse.engine import connect
    from warehouse.summary import marts_as_of

    with connect(read_only=True) as engine:
        held = marts_as_of(engine)
    if wanted is not None and held is not None and wanted != held:
        console.print(f"[red]The warehouse's figures are as of {held}, not {wanted}:[/red] statuses, ageing and "
                      f"the marts are computed for one date at each refresh. Run `lettrage reconcile --as-of {wanted}` "
                      "first (no source is read), then this report.")
        raise typer.Exit(2)
    print_headline()
    if out is not None:
        from reports import render_reports

        with connect(read_only=True) as engine:
            files = render_reports(engine, out, wanted or held or date.today())
        for entity, path in sorted(files.html.items()):
            console.print(f"HTML report {entity}: {path}")
        if files.workbook:
            console.print(f"Excel workbook: {files.workbook}")


@app.command()
def proposals(
    entity: KnownEntityOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder of the files (default: $LETTRAGE__PROPOSALS_DIR or var/erp).")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Write the lettrage proposal for each ERP: the matches it has not lettered, one CSV per entity."""
    day = _date(as_of) or date.today()
    require_warehouse(console)
    from lettrage import orchestration as orch
    from warehouse.engine import connect
    from warehouse.reconcile import export_lettrage_proposals

    with connect(read_only=True) as engine:
        files = export_lettrage_proposals(engine, out or orch.proposals_dir(), day, entity)
    for code, (path, rows) in sorted(files.items()):
        console.print(f"{code}: {rows} match(es) to letter in the ERP -> {path}")
    if not files:
        console.print("no invoices in the warehouse: nothing to propose")


@app.command("fx-rates")
def fx_rates(path: Annotated[Path, typer.Argument(help="CSV with header rate_date,currency,entity_currency,rate "
                                                      "(1 currency = rate entity_currency).")]) -> None:
    """Load exchange rates: the marts' amounts in each entity's currency (``amount_open_entity``) use the latest rate
    on or before their date. The next sync, or `lettrage reconcile`, refreshes the marts with them."""
    require_warehouse(console)
    from lettrage.errors import RowError
    from warehouse.engine import connect
    from warehouse.marts import load_fx_rates_csv

    try:
        with connect() as engine:
            n = load_fx_rates_csv(engine, path)
    except (RowError, ValueError, OSError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    console.print(f"{n} rate(s) loaded from {path}; `lettrage reconcile` refreshes the marts with them")


@app.command()
def sql(query: Annotated[str, typer.Argument(help="A SQL query against the warehouse dataset.")]) -> None:
    """Run a read-only SQL query against the warehouse and print the result."""
    from lettrage.errors import WarehouseError
    from warehouse.engine import connect

    require_warehouse(console)
    try:
        with connect(read_only=True) as engine:
            if engine.name == "postgres":  # (DuckDB opens the file read-only; Postgres holds it per session)
                engine.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            rows = engine.query_dicts(query)
    except WarehouseError as exc:
        console.print(f"[red]{str(exc).split(chr(10))[0]}[/]")  # the engine's message, not a traceback
        raise typer.Exit(code=2) from None
    table = Table(show_lines=False)
    for col in rows[0].keys() if rows else []:
        table.add_column(col)
    for row in rows[:500]:
        table.add_row(*["" if v is None else escape(str(v)) for v in row.values()])
    console.print(table)
    console.print(f"{len(rows)} row(s)")


def print_headline() -> None:
    """What finance wants to see first, read from the warehouse."""
    from warehouse.engine import connect
    from warehouse.summary import (
        aged_balance,
        fmt_money,
        marts_as_of,
        match_stats,
        open_receivables,
        table_counts,
        unapplied_cash,
    )

    with connect(read_only=True) as engine:
        held = marts_as_of(engine)
        counts = table_counts(engine, ["dim_customer", "fct_invoice", "fct_payment", "fct_payout", "fct_bank_line",
                                       "fct_match", "fct_reconciliation_exception"])
        stats = match_stats(engine) if engine.table_exists("fct_match") else []
        encours = open_receivables(engine)
        aged = aged_balance(engine)
        unapplied = unapplied_cash(engine)

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

    t = Table(title="Open receivables (encours)" + (f" as of {held}" if held else ""), title_justify="left")
    for col in ("entity", "cur", "not due", "overdue", "partially paid", "disputed", "total", "unapplied cash",
                "net of unapplied"):
        t.add_column(col, justify="left" if col in ("entity", "cur") else "right")
    for r in encours:
        cash = unapplied.get((r["entity"], r["currency"]), Decimal(0))
        t.add_row(r["entity"], r["currency"], fmt_money(r["not_due"]), fmt_money(r["overdue"]),
                  fmt_money(r["partially_paid"]), fmt_money(r["disputed"]), fmt_money(r["total"]),
                  fmt_money(cash), fmt_money(r["total"] - cash))
    console.print(t)

    t = Table(title="Aged balance (balance âgée)" + (f" as of {held}" if held else ""), title_justify="left")
    for col in ("entity", "cur", "not due", "1-30", "31-60", "61-90", ">90", "total"):
        t.add_column(col, justify="left" if col in ("entity", "cur") else "right")
    for r in aged:
        t.add_row(r["entity"], r["currency"], fmt_money(r["not_due"]), fmt_money(r["d1_30"]), fmt_money(r["d31_60"]),
                  fmt_money(r["d61_90"]), fmt_money(r["over_90"]), fmt_money(r["total"]))
    console.print(t)


# Sub-command groups of the downstream flows (their modules import only typer and rich at top level).
from lettrage.cli_access import access_app, audit_app  # noqa: E402
from lettrage.cli_desk import app as desk_app  # noqa: E402
from lettrage.cli_factoring import app as factoring_app  # noqa: E402
from lettrage.cli_matches import app as matches_app  # noqa: E402
from lettrage.cli_reminders import app as reminders_app  # noqa: E402

app.add_typer(matches_app, name="matches", help="Matches: list them, confirm or reject one (kept through every run).")
app.add_typer(reminders_app, name="reminders", help="Reminders (dunning), statements of account, promises to pay.")
app.add_typer(factoring_app, name="factoring", help="Factoring hand-off: propose, send and follow bordereaux.")
app.add_typer(access_app, name="access", help="Postgres roles, per-entity row-level security, user grants.")
app.add_typer(audit_app, name="audit", help="The whole story of an invoice: lines, matches, decisions, reminders.")
app.add_typer(desk_app, name="desk", help="The finance desk: a web interface to work the queues (sign-in, roles, scopes).")


if __name__ == "__main__":
    app()
