"""``python -m sandbox``: the sample world, the provider sandbox and the demo (not product code)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
# The demo is for finance eyes: dlt's notes on never-filled optional API fields are not.
os.environ.setdefault("RUNTIME__LOG_LEVEL", "ERROR")

app = typer.Typer(help="Lettrage sandbox: sample world generator, local provider server, demo.", no_args_is_help=True,
                  add_completion=False)


@app.command()
def world(out: Annotated[Path, typer.Option(help="Folder to write the world to.")] = Path("sample_data"),
          seed: int = 42, size: Annotated[str, typer.Option(help="small, medium, or a number of invoices.")] = "small",
          as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")] = None) -> None:
    """Write a deterministic sample world (FEC, SAP, camt.053, Stripe, GoCardless + ground truth)."""
    from sandbox.world import write_world

    parsed_size: str | int = int(size) if size.isdigit() else size
    summary = write_world(out, seed=seed, size=parsed_size, as_of=date.fromisoformat(as_of) if as_of else date.today())
    typer.echo(summary)


@app.command()
def serve(root: Path = Path("sample_data"), port: int = 8766) -> None:
    """Serve a world's Stripe and GoCardless APIs on 127.0.0.1 until Ctrl-C."""
    import time

    from sandbox.server import serve as serve_world

    with serve_world(root, port=port) as sandbox:
        typer.echo(f"Stripe: {sandbox.stripe_base}  GoCardless: {sandbox.gocardless_base}  (Ctrl-C to stop)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@app.command()
def demo(seed: int = 42, size: str = "small") -> None:
    """Generate the small world, start the sandbox, run the nightly sync and print the headline figures."""
    from sandbox.demo import run_demo

    raise typer.Exit(code=run_demo(seed=seed, size=size))


@app.command()
def sync(as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today).")] = None) -> None:
    """The nightly sync again on the demo's world and warehouse as they are (files dropped since, decisions kept)."""
    from sandbox.demo import resync_demo

    raise typer.Exit(code=resync_demo(as_of=date.fromisoformat(as_of) if as_of else None))


if __name__ == "__main__":
    app()
