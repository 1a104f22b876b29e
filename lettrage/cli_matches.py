"""``lettrage matches …``: see the matches and take the decisions the desk takes, from a terminal.

Thin: a decision is written by ``warehouse.reconcile.decisions`` (append-only, kept through every run,
never overwritten by a rule) exactly as the desk writes it; ``--apply`` (the default) then brings the
entity's invoices and marts up to date as the desk does (``desk.actions.refresh``).
Mounted by ``lettrage/cli.py`` with ``app.add_typer(matches_app, name="matches")``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from lettrage.terminal import check_entities, make_console, require_warehouse

app = typer.Typer(help="Matches: list them, confirm or reject one, assign a payment (decisions kept through every run).",
                  no_args_is_help=True, add_completion=False)
console = make_console()

ActorOpt = Annotated[str, typer.Option("--by", help="Who decides (kept with the decision).")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Why, in a few words (kept with the decision).")]
ApplyOpt = Annotated[bool, typer.Option("--apply/--no-apply",
                                        help="Reconcile the entity and refresh its marts now (default), or leave "
                                             "it to the next sync or `lettrage reconcile` (several decisions).")]
STATES = ("suggested", "auto", "confirmed", "rejected")


@app.command("list")
def list_(entity: Annotated[list[str] | None, typer.Option("--entity", "-e", callback=check_entities,
                                                           help="Entity code; repeat.")] = None,
          state: Annotated[str, typer.Option("--state", help=f"One of {', '.join(STATES)}, or 'all'.")] = "suggested",
          payment: Annotated[str | None, typer.Option("--payment", help="Only this payment's matches.")] = None,
          invoice: Annotated[str | None, typer.Option("--invoice", help="Only this invoice (id or number).")] = None,
          limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 50) -> None:
    """The matches to look at (suggestions by default), with the id to confirm or reject them by."""
    require_warehouse(console)
    from warehouse.engine import connect

    if state != "all" and state not in STATES:
        raise typer.BadParameter(f"--state must be one of {', '.join(STATES)} or all, not {state!r}")
    where, params = ["1 = 1"], {}
    if entity:
        where.append("m.entity IN (" + ", ".join(f":e{i}" for i in range(len(entity))) + ")")
        params.update({f"e{i}": e for i, e in enumerate(entity)})
    if state != "all":
        where.append("m.state = :state")
        params["state"] = state
    if payment:
        where.append("m.payment_id = :payment")
        params["payment"] = payment
    if invoice:
        where.append("(m.invoice_id = :invoice OR i.invoice_number = :invoice)")
        params["invoice"] = invoice
    sql = ("SELECT m.entity, m.match_id, m.payment_id, coalesce(i.invoice_number, m.invoice_id) AS invoice, "
           "m.amount_applied, m.currency, m.rule, m.state, m.explanation "
           "FROM fct_match AS m LEFT JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
           f"WHERE {' AND '.join(where)} ORDER BY m.entity, m.payment_id, m.invoice_id LIMIT {int(limit) + 1}")
    with connect(read_only=True) as engine:
        rows = engine.query_dicts(sql, params)
    if not rows:
        console.print(f"no {'' if state == 'all' else state + ' '}matches")
        return
    t = Table(title=f"Matches ({state})", title_justify="left")
    for col in ("entity", "match id", "payment", "invoice", "applied", "rule", "state", "why"):
        t.add_column(col, justify="right" if col == "applied" else "left", overflow="fold")
    for r in rows[:limit]:
        t.add_row(r["entity"], r["match_id"], r["payment_id"], r["invoice"], f"{r['amount_applied']} {r['currency']}",
                  r["rule"], r["state"], (r["explanation"] or "")[:120])
    console.print(t)
    if len(rows) > limit:
        console.print(f"(more than {limit}: narrow with --entity, --payment, --invoice or raise --limit)")


@app.command()
def confirm(match_id: str, by: ActorOpt, reason: ReasonOpt = None, apply: ApplyOpt = True) -> None:
    """Confirm a match: it stays, whatever the rules say later, and teaches Lettrage its payer."""
    _decide(match_id, "confirm", by, reason, apply)


@app.command()
def reject(match_id: str, by: ActorOpt, reason: ReasonOpt = None, apply: ApplyOpt = True) -> None:
    """Reject a match: the pair is never proposed again (and what confirming it taught is unlearnt)."""
    _decide(match_id, "reject", by, reason, apply)


@app.command()
def assign(payment: Annotated[str, typer.Argument(help="The payment id (`lettrage matches list`, `lettrage sql`).")],
           invoices: Annotated[list[str], typer.Argument(help="Invoice number or id, optionally =AMOUNT "
                                                         "(FA-2025-0091=2268.00); several to split the payment.")],
           by: ActorOpt, entity: Annotated[str | None, typer.Option("--entity", "-e", help="Entity code, when the "
                                                                    "payment id is not unique across entities.")] = None,
           reason: ReasonOpt = None, apply: ApplyOpt = True) -> None:
    """Apply a payment to invoices a person chose (what no rule proposed: a parent company paying a subsidiary).

    Each invoice takes the amount given, else what it still owes, up to what the payment has left. Kept through
    every run as a confirmed match, like the desk's split; the payment's other suggestions are rejected, and a
    payment applied to one customer's invoices teaches its payer."""
    from decimal import Decimal, InvalidOperation

    from desk.actions import invoice_by_reference, refresh, split_payment
    from lettrage.errors import DataError
    from warehouse.engine import connect

    require_warehouse(console)
    with connect() as engine:
        where, params = "payment_id = :p", {"p": payment}
        if entity:
            where, params = where + " AND entity = :e", {**params, "e": entity}
        found = engine.query_dicts(f"SELECT entity, amount, currency FROM fct_payment WHERE {where}", params)
        if len(found) != 1:
            console.print(f"[red]{'no' if not found else 'more than one'} payment {payment!r}"
                          f"{' in ' + entity if entity else ''}[/]" + (": give --entity" if found else ""))
            raise typer.Exit(code=2)
        code, left = str(found[0]["entity"]), Decimal(found[0]["amount"])
        left -= Decimal(engine.query("SELECT coalesce(sum(amount_applied), 0) FROM fct_match WHERE entity = :e "
                                     "AND payment_id = :p AND state IN ('auto', 'confirmed')",
                                     {"e": code, "p": payment})[0][0] or 0)
        parts: list[tuple[str, Decimal]] = []
        try:
            for arg in invoices:
                ref, _, amount = arg.partition("=")
                inv = invoice_by_reference(engine, code, ref)
                take = Decimal(amount) if amount else min(Decimal(inv["amount_open"] or 0), left)
                parts.append((str(inv["invoice_id"]), take))
                left -= take
            decisions = split_payment(engine, code, payment, parts, by, reason)
        except (DataError, InvalidOperation) as exc:
            console.print(f"[red]{exc if isinstance(exc, DataError) else 'not an amount: ' + str(invoices)}[/]")
            raise typer.Exit(code=2) from None
        done: Any = refresh(engine, code) if apply else None
    applied = ", ".join(f"{i} {a}" for i, a in parts)
    console.print(f"assigned payment {payment} ({code}) to {applied} as decision(s) "
                  f"{', '.join(d.id for d in decisions)}"
                  + (f"; {code} reconciled in {done.reconcile_s:.1f}s, marts in {done.marts_s:.1f}s" if done
                     else "; applied by the next sync or `lettrage reconcile`"))


def _decide(match_id: str, verdict: str, actor: str, reason: str | None, apply: bool) -> None:
    from desk.actions import decide_match, refresh
    from lettrage.errors import DataError
    from warehouse.engine import connect

    require_warehouse(console)
    with connect() as engine:
        found = engine.query("SELECT entity, state FROM fct_match WHERE match_id = :m", {"m": match_id})
        if not found:
            console.print(f"[red]no match {match_id!r}[/]: `lettrage matches list` shows the ids")
            raise typer.Exit(code=2)
        entity = str(found[0][0])
        try:
            decision = decide_match(engine, entity, match_id, verdict, actor, reason)
        except DataError as exc:
            console.print(f"[red]{exc}[/]")
            raise typer.Exit(code=2) from None
        done: Any = refresh(engine, entity) if apply else None
    console.print(f"{verdict}ed match {match_id} ({entity}) as decision {decision.id}"
                  + (f"; {entity} reconciled in {done.reconcile_s:.1f}s, marts in {done.marts_s:.1f}s" if done
                     else "; applied by the next sync or `lettrage reconcile`"))
