"""``lettrage factoring …``: the factoring flow and its read-outs, for people.

Thin: every command calls the flow or a function of ``actions.factoring``.
Mounted by ``lettrage/cli.py`` with ``app.add_typer(factoring_app, name="factoring")``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from lettrage.terminal import check_entities, make_console, parse_day, require_warehouse

app = typer.Typer(help="Factoring (affacturage): propose and send bordereaux, follow the factor's money.",
                  no_args_is_help=True, add_completion=False)
console = make_console()

EntityOpt = Annotated[list[str] | None, typer.Option("--entity", "-e", callback=check_entities,
                                                     help="Entity code; repeat. Default: all.")]
ContractOpt = Annotated[str | None, typer.Option("--contract", "-c", help="Contract id of mappings/factoring.yaml.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Date of the bordereau YYYY-MM-DD (default: today).")]


_date = parse_day


@app.command()
def propose(entity: EntityOpt = None, contract: ContractOpt = None, as_of: AsOfOpt = None,
            all_lines: Annotated[bool, typer.Option("--all", help="List every invoice of each batch.")] = False) -> None:
    """Show the batch each contract would take today and the cash it would bring (writes nothing)."""
    day = _date(as_of)  # (a bad date is refused before anything else is looked at)
    require_warehouse(console)
    from actions.factoring.demo import demo_proposals, format_proposals
    from lettrage import orchestration as orch
    from mappings.factoring import load_factoring
    from warehouse.engine import connect

    mapping = load_factoring()
    if contract:
        mapping = mapping.model_copy(update={"contracts": (mapping.contract(contract),)})
    with connect() as engine:
        proposals = demo_proposals(engine, day or orch.today(), mapping)
    proposals = [p for p in proposals if not entity or p["entity"] in entity]
    console.print(format_proposals(proposals, max_lines=None if all_lines else 10)
                  or "no invoices in the warehouse for any factoring contract")


@app.command()
def run(entity: EntityOpt = None, contract: ContractOpt = None, as_of: AsOfOpt = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Propose only; nothing written or sent.")] = False,
        out_dir: Annotated[str | None, typer.Option("--out-dir", help="Local copy of the bordereaux.")] = None) -> None:
    """Run the factoring flow: finish pending batches, send this one, reconcile the factor's money."""
    from flows.factoring import factoring

    result = factoring(entities=entity, contract_id=contract, as_of=_date(as_of), dry_run=dry_run, out_dir=out_dir)
    table = Table("contract", "entity", "batch", "invoices", "amount", "expected cash", "delivery")
    for r in result["runs"]:
        p = r["proposal"] or {}
        batch = r["planned"] or (p.get("batch_id") if dry_run else None) or "-"
        table.add_row(r["contract_id"], r["entity"], batch, str(p.get("invoices", 0)), str(p.get("amount", "0")),
                      str(p.get("net_advance", "0")), ", ".join(f"{k}: {v}" for k, v in r["deliveries"].items()) or "-")
    console.print(table)


@app.command()
def status(entity: EntityOpt = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Batches by state, mart_factoring and the payments to transfer to the factor."""
    from actions.factoring.mart import read_mart
    from actions.factoring.schema import ensure_factoring_tables
    from actions.factoring.settlement import open_transfers
    from warehouse.engine import connect

    with connect() as engine:
        ensure_factoring_tables(engine)
        batches = engine.query_dicts("SELECT batch_id, entity, contract_id, as_of, state, invoice_count, amount, "
                                     "net_advance, last_error FROM factoring_batch ORDER BY planned_at")
        mart = read_mart(engine) if engine.table_exists("mart_factoring") else []
        transfers = open_transfers(engine)
    batches = [b for b in batches if not entity or b["entity"] in entity]
    if as_json:
        console.print_json(json.dumps({"batches": batches, "mart": mart, "transfers": transfers}, default=str))
        return
    table = Table("batch", "entity", "contract", "as of", "state", "invoices", "amount", "net advance", "last error")
    for b in batches:
        table.add_row(*(str(b[k]) if b[k] is not None else "" for k in
                        ("batch_id", "entity", "contract_id", "as_of", "state", "invoice_count", "amount",
                         "net_advance", "last_error")))
    console.print(table)
    for m in mart:
        console.print(f"{m['entity']} {m['contract_id']}: financed {m['financed_amount']}, advance received "
                      f"{m['advance_received']}, fees paid {m['fees_paid']}, reserve outstanding "
                      f"{m['reserve_outstanding']}, still carried {m['open_factored']}, to transfer {m['to_transfer']} "
                      f"(sent on {m['transferred_to_factor']}), DSO effect {m['dso_effect_days']} d")
    for t in transfers:
        console.print(f"[yellow]transfer to factor[/]: {t['detail']}")
