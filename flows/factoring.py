"""Weekly (or on demand) factoring run: finish pending batches, propose, send, follow the money.

Reads like the runbook: for each contract and entity — reconcile the factor's bank lines
first (invoices the factor has collected since last week leave what it carries, which the
concentration limit reads), deliver (network, retried on transient trouble only), refresh
the invoice state so assigned invoices leave the reminder flow at once, reconcile the
factor's bank lines again for the new batch, rebuild ``mart_factoring``.
``dry_run`` proposes only: nothing is written, built or sent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from actions.factoring.mart import build_mart_factoring
from actions.factoring.outbox import DEFAULT_OUT_DIR, run_contract
from actions.factoring.settlement import reconcile_settlements
from flows.params import run_namer
from lettrage import orchestration as orch
from mappings.factoring import load_factoring
from warehouse.engine import connect


def _retry_transient(task_: Any, task_run: Any, state: Any) -> bool:
    try:
        exc = state.result(raise_on_failure=False)
    except BaseException as raised:  # noqa: BLE001 - the state's exception is what we classify
        exc = raised
    return orch.is_retryable(exc if isinstance(exc, BaseException) else None)


@task(task_run_name="factoring-{contract_id}-{entity}", retries=3, retry_delay_seconds=[30, 120, 600],
      retry_condition_fn=_retry_transient, timeout_seconds=900)
def assign(contract_id: str, entity: str, as_of: date, dry_run: bool, out_dir: str) -> dict[str, Any]:
    """Finish pending batches and send this week's (a retry resumes from the outbox, never sends twice)."""
    contract = load_factoring().contract(contract_id)
    with connect() as engine:
        report = run_contract(engine, contract, entity, as_of, out_dir=Path(out_dir), dry_run=dry_run)
    get_run_logger().info("%s/%s: %s", contract_id, entity, report.proposal)
    return report.as_dict()


@task(task_run_name="factoring-invoice-state-{entity}", timeout_seconds=1800)
def refresh_invoice_state(entity: str, as_of: date) -> None:
    """Incremental reconciliation, so fct_invoice shows the new assignments as 'factored' now."""
    from warehouse.reconcile import reconcile

    with connect() as engine:
        reconcile(engine, as_of=as_of, entity=entity, incremental=True)


@task(task_run_name="factoring-money-{contract_id}-{entity}", timeout_seconds=600)
def follow_money(contract_id: str, entity: str) -> dict[str, Any]:
    contract = load_factoring().contract(contract_id)
    with connect() as engine:
        return reconcile_settlements(engine, contract, entity)


@task(timeout_seconds=600)
def refresh_mart(as_of: date) -> int:
    with connect() as engine:
        return build_mart_factoring(engine, as_of)


@flow(name="factoring", flow_run_name=run_namer("factoring"))
def factoring(entities: list[str] | None = None, contract_id: str | None = None, as_of: date | None = None,
              dry_run: bool = False, out_dir: str | None = None) -> dict[str, Any]:
    """Hand eligible receivables to the factor and follow the money back.

    Args:
        entities: Entity codes (e.g. FR01). Empty means every entity of each contract.
        contract_id: One contract of mappings/factoring.yaml. Empty means all.
        as_of: Date of the bordereau. Empty means today (Paris time).
        dry_run: Propose only: nothing is written, built or sent.
        out_dir: Where the local copy of each bordereau is kept (default var/factoring).
    """
    as_of = as_of or orch.today()
    folder = out_dir or str(DEFAULT_OUT_DIR)
    contracts = [c for c in load_factoring().contracts if contract_id is None or c.contract_id == contract_id]
    runs: list[dict[str, Any]] = []
    money: dict[str, Any] = {}
    for c in contracts:
        for entity in c.entities:
            if entities and entity not in entities:
                continue
            if not dry_run:
                money[f"{c.contract_id}/{entity}"] = follow_money(c.contract_id, entity)
            report = assign(c.contract_id, entity, as_of, dry_run, folder)
            runs.append(report)
            if dry_run:
                continue
            if report["confirmed"]:
                refresh_invoice_state(entity, as_of)
                money[f"{c.contract_id}/{entity}"] = follow_money(c.contract_id, entity)
    mart_rows = None if dry_run else refresh_mart(as_of)
    return {"as_of": as_of.isoformat(), "dry_run": dry_run, "runs": runs, "money": money, "mart_factoring": mart_rows}
