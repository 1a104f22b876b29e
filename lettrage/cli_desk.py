"""``lettrage desk`` (serve the finance desk) and ``lettrage desk adduser``.

Thin: serving is uvicorn on :func:`desk.create_app`; accounts go through
:func:`desk.add_user`. Mounted by ``lettrage/cli.py``::

    from lettrage.cli_desk import app as desk_app
    app.add_typer(desk_app, name="desk")

Binds to 127.0.0.1 by default: put a TLS-terminating proxy in front (it sets
X-Forwarded-Proto, which makes the session cookie Secure) before exposing it.
"""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer

from lettrage.errors import LettrageError
from lettrage.terminal import make_console

app = typer.Typer(help="The finance desk: dashboard, work queue, customers and invoices in a browser.",
                  invoke_without_command=True, add_completion=False)
console = make_console()
err = make_console(stderr=True)


@app.callback()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless a proxy is in front.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    workers: Annotated[int, typer.Option(
        help="Worker processes (Postgres only: DuckDB allows one writing process). Needs LETTRAGE__DESK_SECRET.")] = 1,
    sso_header: Annotated[str | None, typer.Option(
        help="Trust this request header (e.g. X-Remote-User) as the signed-in user. Only behind a proxy that sets it.")] = None,
) -> None:
    """Serve the desk (when no sub-command is given)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from desk import create_app, load_settings

    if sso_header:
        os.environ["LETTRAGE__DESK_SSO_HEADER"] = sso_header
    if not os.environ.get("LETTRAGE__DESK_SECRET"):
        err.print("[yellow]LETTRAGE__DESK_SECRET is not set: sessions end when the desk restarts[/yellow]")
    from desk.indexes import ensure_desk_indexes
    from warehouse.engine import connect

    settings = load_settings()
    from desk.db import access_ready, sync_all

    with connect(settings.warehouse) as engine:
        created = ensure_desk_indexes(engine)
        enforced = settings.db_roles and access_ready(engine)
        synced = sync_all(engine) if enforced else []
    if created:
        console.print(f"created desk indexes: {', '.join(created)}")
    if enforced:
        console.print(f"row-level security: each request acts as its user's Postgres role ({len(synced)} users)")
    elif settings.warehouse.engine == "postgres":
        err.print("[yellow]`lettrage access init` has not run: scope is enforced by the desk's pages only[/yellow]")
    if workers > 1 and (settings.warehouse.engine != "postgres" or not os.environ.get("LETTRAGE__DESK_SECRET")):
        err.print("[red]--workers > 1 needs a Postgres warehouse and LETTRAGE__DESK_SECRET (shared by the workers)[/red]")
        raise typer.Exit(2)
    console.print(f"Lettrage desk on http://{host}:{port}/ (warehouse {settings.warehouse.engine})")
    common: dict[str, object] = {"host": host, "port": port, "proxy_headers": True,
                                 "forwarded_allow_ips": "127.0.0.1", "log_level": "info"}
    if workers > 1:  # each worker builds its app from the environment
        uvicorn.run("desk.app:create_app", factory=True, workers=workers, **common)  # type: ignore[arg-type]
    else:
        uvicorn.run(create_app(settings), **common)  # type: ignore[arg-type]


@app.command("adduser")
def adduser(
    username: Annotated[str, typer.Argument(help="Login name, e.g. alice or alice@example.com.")],
    role: Annotated[str, typer.Option(help="reader, reviewer, credit_controller or admin.")] = "reader",
    entities: Annotated[str, typer.Option(help="Comma-separated entity codes in scope, or '*' for all.")] = "*",
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    sso_only: Annotated[bool, typer.Option(help="No password: only the trusted SSO header signs this user in.")] = False,
    email: Annotated[str | None, typer.Option(help="Where assignments and comments are notified.")] = None,
    department: Annotated[str | None, typer.Option(
        help="sales, logistics or billing: disputes assigned to it show in the user's queue.")] = None,
) -> None:
    """Create a desk user (or reset its role, scope and password). Asks for the password, or reads
    LETTRAGE__DESK_PASSWORD when set (for scripts)."""
    from desk import add_user
    from warehouse.engine import connect

    password: str | None = None
    if not sso_only:
        password = os.environ.get("LETTRAGE__DESK_PASSWORD") or getpass.getpass("Password: ")
        if not os.environ.get("LETTRAGE__DESK_PASSWORD") and getpass.getpass("Again: ") != password:
            err.print("[red]the two passwords differ[/red]")
            raise typer.Exit(1)
    try:
        with connect() as engine:
            user = add_user(engine, username, role=role, entities=entities.split(","), password=password,
                            display_name=name, actor=f"cli:{getpass.getuser()}", email=email, department=department)
    except LettrageError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"desk user {user.username}: {user.role} on {user.entities}")


@app.command("users")
def users() -> None:
    """List desk users, their role and scope."""
    from desk.users import list_users
    from warehouse.engine import connect

    with connect() as engine:
        for u in list_users(engine):
            lock = f" locked until {u['locked_until']}" if u["locked_until"] else ""
            console.print(f"{u['username']:<24} {u['role']:<18} {u['entities']}{lock}")
