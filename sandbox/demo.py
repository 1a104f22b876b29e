"""The demo: a small sample world, the local provider sandbox, and one nightly sync.

Run by ``scripts/demo`` (``python -m sandbox demo``). It writes the world to
``./sample_data``, serves its Stripe and GoCardless parts on 127.0.0.1, points
a sources file at it, runs the nightly flow into ``./warehouse.duckdb`` and
prints what finance wants to see first — every figure read from the warehouse.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from lettrage.terminal import make_console

console = make_console()
ERP_SOURCES = {"sage_fec": "sage_fec", "sap_export": "sap_export", "sage": "sage_fec", "sap": "sap_export"}
# API ERPs: source name -> (mount under the sandbox URL, secrets taken from world.json's block of that name)
ERP_API_SOURCES = {"sage_accounting": "/sage", "netsuite": "/netsuite", "sap_b1": ""}


def write_sources_file(root: Path, world: dict[str, Any], stripe_base: str, gocardless_base: str) -> Path:
    """A sources.yaml for the sample world; secrets go to the environment, not to this file."""
    entities: dict[str, dict[str, Any]] = {}
    for ent in world["entities"]:
        code = ent["code"]
        sources: dict[str, Any] = {}
        erp = ERP_SOURCES.get(ent.get("erp", ""), ent.get("erp"))
        if erp in ERP_API_SOURCES and (root / code / erp).exists():
            server = stripe_base.rsplit("/stripe", 1)[0]
            sources[erp] = {"base_url": server + ERP_API_SOURCES[erp]}
            for name, value in (ent.get(erp) or {}).items():
                os.environ[f"SOURCES__{erp.upper()}__{code}__{name.upper()}"] = str(value)
        elif erp and (root / code / erp).exists():
            sources[erp] = {"path": f"{code}/{erp}"}
        if (root / code / "camt053").exists():
            sources["camt053"] = {"path": f"{code}/camt053"}
        if (root / code / "stripe").exists():
            sources["stripe"] = {"base_url": stripe_base}
            os.environ[f"SOURCES__STRIPE__{code}__API_KEY"] = ent["stripe"]["api_key"]
        if (root / code / "gocardless").exists():
            sources["gocardless"] = {"base_url": gocardless_base}
            os.environ[f"SOURCES__GOCARDLESS__{code}__ACCESS_TOKEN"] = ent["gocardless"]["access_token"]
        entities[code] = sources
    path = root / "sources.yaml"
    path.write_text(yaml.safe_dump({"entities": entities}, sort_keys=True), encoding="utf-8")
    return path


def reset_demo_state(root: Path, warehouse: Path, pipelines: Path) -> None:
    """The demo starts from nothing each time, so its figures are those of today's world."""
    for path in (root, pipelines):
        shutil.rmtree(path, ignore_errors=True)
    for suffix in ("", ".wal"):
        Path(f"{warehouse}{suffix}").unlink(missing_ok=True)


def print_actions(as_of: date) -> None:
    """What the downstream flows would do today: reminders (dry run) and the factoring proposal."""
    from rich.table import Table

    from actions.dunning.demo import dry_run_reports
    from actions.factoring import demo_proposals, format_proposals
    from warehouse.engine import connect

    console.rule("[bold]Reminders that would go out today (dry run: nothing is sent)")
    with connect(read_only=True) as engine:
        reports = dry_run_reports(engine, None, as_of)
    for report in reports:
        rows = [r for r in report.rows() if r["action"] != "skip"]
        by_step: dict[str, int] = {}
        for r in rows:
            key = f"{r['action']}:{r['step']}" if r["step"] else r["action"]
            by_step[key] = by_step.get(key, 0) + 1
        skipped = len(report.rows()) - len(rows)
        console.print(f"[bold]{report.entity}[/]: {len(rows)} invoices to act on "
                      f"({', '.join(f'{k} {v}' for k, v in sorted(by_step.items())) or 'none'}), "
                      f"{skipped} left alone (paid, disputed, direct debit, promised, money on its way…)")
        table = Table("customer", "invoice", "due", "open", "step", "reason", show_lines=False)
        for r in rows[:5]:
            table.add_row(str(r["customer_name"] or r["customer_id"])[:28], r["invoice_number"], r["due_date"],
                          f"{r['amount_open']} {r['currency']}", r["step"] or r["action"], str(r["reason"])[:60])
        if rows:
            console.print(table)
    console.print("  the full list: .venv/bin/lettrage reminders list")
    console.rule("[bold]Factoring: the batch we would propose (at-risk and long-terms customers)")
    with connect() as engine:  # propose() creates the factoring tables on first use
        console.print(format_proposals(demo_proposals(engine, as_of)))


def resync_demo(root: Path = Path("sample_data"), *, as_of: date | None = None) -> int:
    """The nightly sync again on the demo's world and warehouse, as they are: what was dropped into
    ``sample_data`` since (a statement, say) is loaded, decisions taken in the desk are kept. The world's
    API sources are served on 127.0.0.1 for the length of the sync, with their secrets."""
    from lettrage.cli import print_headline
    from sandbox.server import serve

    if not (root / "world.json").exists() or not Path("warehouse.duckdb").exists():
        console.print(f"[red]no demo here[/]: {root}/world.json or warehouse.duckdb is missing; run scripts/demo first")
        return 2
    as_of = as_of or date.today()
    os.environ["LETTRAGE__REPORTS_DIR"] = str((Path("var") / "reports").resolve())
    os.environ["LETTRAGE__PROPOSALS_DIR"] = str((Path("var") / "erp").resolve())
    os.environ["LETTRAGE__WAREHOUSE_URL"] = "duckdb:///warehouse.duckdb"
    os.environ["LETTRAGE__PIPELINES_DIR"] = str((Path("var") / "dlt").resolve())
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))
    with serve(root) as sandbox:
        sources_file = write_sources_file(root, world, sandbox.stripe_base, sandbox.gocardless_base)
        os.environ["LETTRAGE__SOURCES_FILE"] = str(sources_file.resolve())
        from flows.nightly_sync import nightly_sync

        state = nightly_sync(as_of=as_of, return_state=True)
    if not state.is_completed():
        console.print(f"[bold red]The sync reported failures:[/] {state.message}")
    print_headline()
    return 0 if state.is_completed() else 1


def run_demo(root: Path = Path("sample_data"), *, seed: int = 42, size: str = "small",
             as_of: date | None = None) -> int:
    from lettrage.cli import print_headline
    from sandbox.server import serve
    from sandbox.world import write_world

    as_of = as_of or date.today()
    warehouse = Path("warehouse.duckdb")
    pipelines = Path("var") / "dlt"
    reports = Path("var") / "reports"
    proposals = Path("var") / "erp"
    reset_demo_state(root, warehouse, pipelines)
    shutil.rmtree(reports, ignore_errors=True)
    shutil.rmtree(proposals, ignore_errors=True)
    os.environ["LETTRAGE__REPORTS_DIR"] = str(reports.resolve())
    os.environ["LETTRAGE__PROPOSALS_DIR"] = str(proposals.resolve())
    os.environ["LETTRAGE__WAREHOUSE_URL"] = f"duckdb:///{warehouse}"
    os.environ["LETTRAGE__PIPELINES_DIR"] = str(pipelines.resolve())

    started = time.monotonic()
    console.rule("[bold]Lettrage demo")
    console.print(f"Generating the sample world (seed {seed}, size {size}, as of {as_of}) in {root}/ …")
    write_world(root, seed=seed, size=size, as_of=as_of)
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))

    with serve(root) as sandbox:
        console.print(f"Local provider sandbox (Stripe, GoCardless wire formats) on {sandbox.url}")
        sources_file = write_sources_file(root, world, sandbox.stripe_base, sandbox.gocardless_base)
        os.environ["LETTRAGE__SOURCES_FILE"] = str(sources_file.resolve())
        console.print("Running the nightly sync (Prefect starts a temporary local server) …")
        from flows.nightly_sync import nightly_sync

        state = nightly_sync(as_of=as_of, return_state=True)

    console.rule("[bold]What finance sees first")
    if state.is_completed():
        result = state.result()
        for loaded in result["loaded"]:
            console.print(f"  loaded {loaded['source']}/{loaded['entity']}: {loaded['rows']:,} rows "
                          f"({_set_aside(loaded)} quarantined) in {loaded['seconds']}s")
    else:
        console.print(f"[bold red]The sync reported failures:[/] {state.message}")
    print_headline()
    if state.is_completed():
        print_actions(as_of)
        console.rule("[bold]Reports")
        for path in state.result().get("reports", []):
            console.print(f"  {path}")
        counts = state.result().get("lettrage_proposals", {})
        console.print(f"  lettrage proposals for the ERPs in {proposals.resolve()}: "
                      + ", ".join(f"{e} {n} matches" for e, n in sorted(counts.items())))
    console.rule("[bold]Next")
    console.print(
        "  .venv/bin/lettrage report                       # these figures again\n"
        "  .venv/bin/lettrage reminders list               # today's reminders, as a dry run\n"
        "  .venv/bin/lettrage factoring propose            # the factoring batch we would send\n"
        "  .venv/bin/lettrage sql \"SELECT * FROM mart_aged_balance ORDER BY amount_open DESC LIMIT 10\"\n"
        "  .venv/bin/prefect server start                  # the Prefect UI on http://127.0.0.1:4200\n"
        "  .venv/bin/prefect deploy --all                  # register the deployments of prefect.yaml\n"
        f"  warehouse: {warehouse.resolve()}  ·  sample data: {root.resolve()}\n"
        f"  demo took {time.monotonic() - started:.0f}s"
    )
    return 0 if state.is_completed() else 1


def _set_aside(loaded: dict[str, Any]) -> str:
    """The records a source set aside (a line, an API object), else its quarantine rows (one per bad field)."""
    records = loaded.get("quarantined_records")
    return f"{records} record(s)" if records is not None else f"{loaded['quarantined']} row(s)"
