"""``lettrage reminders …``: today's reminders for people (a typer app the main CLI mounts).

Thin: every command calls ``actions.dunning`` or ``flows.reminders``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from lettrage.terminal import check_entities, check_entity, make_console, parse_day, require_warehouse

app = typer.Typer(help="Reminders (relances): list or send today's reminders and statements, exactly once; record promises to pay.", no_args_is_help=True)
console = make_console()


def _date(value: str | None) -> date:
    """The day given (YYYY-MM-DD), else today."""
    return parse_day(value) or date.today()


@app.command("list")
def list_(entity: Annotated[list[str] | None, typer.Option("--entity", "-e", callback=check_entities)] = None,
          as_of: Annotated[str | None, typer.Option("--as-of")] = None,
          all_rows: Annotated[bool, typer.Option("--all", help="Also list skipped invoices.")] = False) -> None:
    """Dry run: what would be sent today, with step and reason (reads only)."""
    day = _date(as_of)
    require_warehouse(console)
    from actions.dunning.demo import print_dry_run
    from lettrage.errors import EntitiesFailed

    try:
        print_dry_run(entity, day, show_skipped=all_rows, console=console)
    except EntitiesFailed as exc:  # (the other entities' tables are printed)
        console.print(f"[red]{escape(str(exc))}[/]")
        raise typer.Exit(1) from exc


@app.command()
def send(entity: Annotated[list[str] | None, typer.Option("--entity", "-e", callback=check_entities)] = None,
         as_of: Annotated[str | None, typer.Option("--as-of")] = None) -> None:
    """Send today's reminders through the outbox (SMTP settings from DUNNING__SMTP__*)."""
    day = _date(as_of)
    from flows.reminders import reminders
    from lettrage.errors import EntitiesFailed

    failure: EntitiesFailed | None = None
    try:
        result = reminders(entities=entity, as_of=day, dry_run=False)
    except EntitiesFailed as exc:  # (the others were sent: their rows, then the failed entities named)
        failure, result = exc, exc.results
    table = Table("entity", "messages", "sent", "failed")
    for code, r in result.items():
        s = r["summary"]
        table.add_row(code, str(s["messages"]), str(s["sent"]), str(s["failed"]))
    console.print(table)
    if failure is not None:
        console.print(f"[red]{escape(str(failure))}[/]")
        raise typer.Exit(1) from failure


@app.command()
def statements(entity: Annotated[list[str] | None, typer.Option("--entity", "-e", callback=check_entities)] = None,
               customer: Annotated[list[str] | None, typer.Option(
                   "--customer", "-c", help="On demand for these customer ids; default: the monthly schedule.")] = None,
               as_of: Annotated[str | None, typer.Option("--as-of")] = None,
               send_now: Annotated[bool, typer.Option("--send", help="Send them; without it, list only.")] = False,
               ) -> None:
    """Statements of account (relevés): list what is due, or send it with --send (exactly once per period)."""
    day = _date(as_of)
    if send_now:
        from flows.reminders import statements as statements_flow

        result = statements_flow(entities=entity, as_of=day, customers=customer, dry_run=False)
        rows = [row for r in result.values() for row in r["rows"]]
    else:
        from actions.dunning.run import run_statements
        from warehouse.engine import connect

        with connect(read_only=True) as engine:
            codes = entity or [str(r[0]) for r in engine.query("SELECT DISTINCT entity FROM fct_invoice ORDER BY 1")]
            rows = [row for code in codes for row in run_statements(
                engine, code, as_of=day, dry_run=True, customers=customer).rows()]
    table = Table("entity", "customer", "period", "action", "balance", "items", "movements", "reason",
                  title=f"Statements of account {day}" + ("" if send_now else " (dry run)"))
    for r in rows:
        table.add_row(r["entity"], r["customer_name"] or r["customer_id"], r["period"] or "", r["action"],
                      r["balance"], str(r["open_items"]), str(r["movements"]), r["reason"])
    console.print(table)
    if not rows:
        console.print("no statement due (not the statement day: name customers with --customer for one on demand)")


@app.command()
def promise(entity: Annotated[str, typer.Option("--entity", "-e", callback=check_entity)],
            invoice: Annotated[str, typer.Option("--invoice", "-i", help="Invoice id (fct_invoice.invoice_id).")],
            on: Annotated[str, typer.Option("--on", help="Promised payment day YYYY-MM-DD.")],
            actor: Annotated[str, typer.Option("--actor", help="Who recorded it.")],
            reason: Annotated[str | None, typer.Option("--reason")] = None,
            as_of: Annotated[str | None, typer.Option(
                "--as-of", help="The day the customer made the promise, when recorded later or replayed (the "
                                "promised day may not be before it); default today.")] = None) -> None:
    """Record a promise to pay: no reminder for the invoice until that day (a broken one reaches the digest)."""
    promised, today = _date(on), parse_day(as_of)
    from actions.dunning.promises import record_promise_to_pay
    from lettrage.errors import DataError
    from warehouse.engine import connect

    try:
        with connect() as engine:
            decision = record_promise_to_pay(engine, entity, invoice, promised, actor, reason, today=today)
    except DataError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"promise to pay recorded for {entity}/{invoice} until {on} (decision {decision.id})")


@app.command()
def dispute(entity: Annotated[str, typer.Option("--entity", "-e", callback=check_entity)],
            invoice: Annotated[str, typer.Option("--invoice", "-i", help="Invoice id or number.")],
            reason: Annotated[str, typer.Option("--reason", help="What the customer contests.")],
            actor: Annotated[str, typer.Option("--actor", help="Who recorded it.")],
            department: Annotated[str, typer.Option("--department", help="Who handles it (as in the desk).")] = "sales",
            ) -> None:
    """Record a customer dispute, as the desk does: no reminder, no factoring, the invoice shows as disputed from
    the next reconcile (a decision kept through every run)."""
    from desk.actions import dispute as record_dispute
    from desk.actions import invoice_by_reference
    from lettrage.errors import DataError
    from warehouse.engine import connect

    try:
        with connect() as engine:
            found = invoice_by_reference(engine, entity, invoice)
            decision = record_dispute(engine, entity, str(found["invoice_id"]), reason=reason, department=department,
                                      actor=actor)
    except DataError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"dispute recorded for {entity}/{invoice} (decision {decision.id}): reminders and factoring leave it "
                  "out from now; `lettrage reconcile` or the next sync shows it disputed in the tables")


@app.command("resolve-dispute")
def resolve_dispute(entity: Annotated[str, typer.Option("--entity", "-e", callback=check_entity)],
                    invoice: Annotated[str, typer.Option("--invoice", "-i", help="Invoice id or number.")],
                    reason: Annotated[str, typer.Option("--reason", help="What settled it.")],
                    actor: Annotated[str, typer.Option("--actor", help="Who recorded it.")]) -> None:
    """Close a customer dispute: reminders and factoring take the invoice again (a decision kept through every run;
    the dispute stays in the invoice's history)."""
    from desk.actions import invoice_by_reference
    from desk.actions import resolve_dispute as record_resolution
    from lettrage.errors import DataError
    from warehouse.engine import connect

    try:
        with connect() as engine:
            found = invoice_by_reference(engine, entity, invoice)
            decision = record_resolution(engine, entity, str(found["invoice_id"]), resolution=reason, actor=actor)
    except DataError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    console.print(f"dispute closed for {entity}/{invoice} (decision {decision.id}): reminders and factoring take it "
                  "from now; `lettrage reconcile` or the next sync shows it no longer disputed in the tables")
