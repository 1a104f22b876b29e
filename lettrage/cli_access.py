"""``lettrage access …`` and ``lettrage audit …``: roles, users and the story of an invoice, for people.

Thin: each command calls :mod:`warehouse.access`. Mounted by ``lettrage/cli.py``::

    from lettrage.cli_access import access_app, audit_app
    app.add_typer(access_app, name="access")
    app.add_typer(audit_app, name="audit")

On a DuckDB warehouse the access commands say that access control needs Postgres
and exit with status 2, rather than pretending to protect a file anyone can open.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.table import Table

from lettrage.errors import LettrageError
from lettrage.terminal import make_console, require_warehouse

access_app = typer.Typer(help="Postgres roles, login users and per-entity row-level security.",
                         no_args_is_help=True, add_completion=False)
audit_app = typer.Typer(help="Who did what, and when: the history of one invoice.",
                        no_args_is_help=True, add_completion=False)
console = make_console()
err = make_console(stderr=True)

EXIT_NEEDS_POSTGRES = 2
EXIT_REFUSED = 1

PrefixOpt = Annotated[str | None, typer.Option(
    "--prefix", help="Prefix of the group roles (default: $LETTRAGE__ACCESS_PREFIX or 'lettrage').")]


def _roles(prefix: str | None) -> Any:
    from warehouse.access import RoleNames

    return RoleNames(prefix) if prefix else RoleNames.from_env()


@contextmanager
def _engine() -> Iterator[Any]:
    from warehouse.engine import connect

    with connect() as engine:
        yield engine


def _guard(call: Callable[[], None]) -> None:
    """Turn Lettrage errors into a message and an exit code (2: needs Postgres, 1: refused or bad input)."""
    from warehouse.access import AccessNeedsPostgres

    try:
        call()
    except AccessNeedsPostgres as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_NEEDS_POSTGRES) from None
    except LettrageError as exc:
        err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(EXIT_REFUSED) from None


def _print_report(report: Any) -> None:
    if report.skipped:
        console.print(f"nothing applied: {report.skipped}")
        return
    t = Table(title="Access per table", title_justify="left")
    for col in ("table", "groups", "row-level security"):
        t.add_column(col)
    for table, who in report.tables.items():
        t.add_row(table, who, "per entity" if table in report.row_level else "")
    console.print(t)
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


@access_app.command("init")
def init(prefix: PrefixOpt = None) -> None:
    """Create the loader, reader, reviewer and admin roles and apply grants and policies (idempotent)."""
    from warehouse.access import init_access

    def run() -> None:
        with _engine() as engine:
            _print_report(init_access(engine, _roles(prefix)))
    _guard(run)


@access_app.command("apply")
def apply(prefix: PrefixOpt = None) -> None:
    """Re-apply grants and row-level security to every table (the flows do this after each build)."""
    from warehouse.access import AccessNeedsPostgres, apply_access

    def run() -> None:
        with _engine() as engine:
            if engine.name != "postgres":
                raise AccessNeedsPostgres()
            _print_report(apply_access(engine, _roles(prefix)))
    _guard(run)


@access_app.command("grant")
def grant(
    user: Annotated[str, typer.Argument(help="Login name of the person (created if missing).")],
    role: Annotated[str, typer.Option("--role", "-r", help="reader, reviewer, loader or admin.")],
    entity: Annotated[list[str] | None, typer.Option("--entity", "-e", help="Entity the user may see (repeat; '*' for all).")] = None,
    password_env: Annotated[str | None, typer.Option(
        "--password-env", help="Name of an environment variable holding the user's password (never on the command line).")] = None,
    prefix: PrefixOpt = None,
) -> None:
    """Make USER a member of a role and add entities to what it may see."""
    from warehouse.access import grant_user

    password = os.environ.get(password_env) if password_env else None
    if password_env and not password:
        err.print(f"[bold red]environment variable {password_env} is empty or unset[/]")
        raise typer.Exit(EXIT_REFUSED)

    def run() -> None:
        with _engine() as engine:
            grant_user(engine, user, role, entity or [], roles=_roles(prefix), password=password)
        console.print(f"{user}: {role} for {', '.join(entity or []) or 'no entity'}")
    _guard(run)


@access_app.command("revoke")
def revoke(
    user: Annotated[str, typer.Argument(help="Login name.")],
    entity: Annotated[list[str] | None, typer.Option("--entity", "-e", help="Entity to remove (repeat).")] = None,
    role: Annotated[str | None, typer.Option("--role", "-r", help="Group membership to remove.")] = None,
    prefix: PrefixOpt = None,
) -> None:
    """Remove entities from USER's scope, or a role; with neither, every entity and role."""
    from warehouse.access import revoke_user

    def run() -> None:
        with _engine() as engine:
            revoke_user(engine, user, entities=entity, role=role, roles=_roles(prefix))
        console.print(f"{user}: revoked {', '.join(entity or []) or role or 'every entity and role'}")
    _guard(run)


@access_app.command("list")
def list_(prefix: PrefixOpt = None) -> None:
    """Users of each role and the entities they may see."""
    from warehouse.access import list_access

    def run() -> None:
        with _engine() as engine:
            rows = list_access(engine, _roles(prefix))
        t = Table(title="Users", title_justify="left")
        for col in ("user", "role", "login", "entities"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["user"], r["role"], "yes" if r["login"] else "no", ", ".join(r["entities"]))
        console.print(t)
    _guard(run)


@audit_app.command("invoice")
def invoice(
    entity: Annotated[str, typer.Argument(help="Entity code, e.g. FR01.")],
    invoice_id: Annotated[str, typer.Argument(help="Invoice id as in fct_invoice (not the printed number).")],
) -> None:
    """The whole story of one invoice, in order: ERP lines, matches, decisions, reminders, factoring."""
    require_warehouse(console)
    from warehouse.access import invoice_history, render_history

    def run() -> None:
        with _engine() as engine:
            events = invoice_history(engine, entity, invoice_id)
        for line in render_history(events):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
    _guard(run)
