"""Reminders (dunning) runbook: freshness guard → select → plan → render → record → send, per entity.

Thin on purpose: every decision lives in ``actions.dunning``. Retries sit on
nothing here: a resend must go through the outbox's recovery, never a blind retry.
Statements of account ride along: on each entity's statement day the daily run
also sends the monthly statements (``statements=True``); ``statements`` (the flow)
sends them on demand for named customers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from actions.dunning import Channels, run_reminders
from actions.dunning.imap import checker_from_config
from actions.dunning.providers import GoCardlessCollector, StripePayLinks
from actions.dunning.run import RunReport, run_statements
from actions.dunning.smtp import SmtpSender, load_smtp_settings
from flows.params import run_namer
from lettrage import orchestration as orch
from lettrage.errors import EntitiesFailed
from mappings.dunning import load_dunning_rules
from warehouse.engine import connect


def _with_channels(entity: str, dry_run: bool, call: Callable[[Channels], RunReport]) -> RunReport:
    sender = None if dry_run else SmtpSender(load_smtp_settings())
    channels = Channels(smtp=sender, paylinks=None if dry_run else StripePayLinks.for_entity(entity),
                        gocardless=None if dry_run else GoCardlessCollector.for_entity(entity),
                        checker=None if dry_run else checker_from_config(load_dunning_rules().acceptance))
    try:
        return call(channels)
    finally:
        if sender is not None:
            sender.close()


@task(name="remind-entity")
def remind_entity(entity: str, as_of: date, dry_run: bool) -> dict[str, Any]:
    logger = get_run_logger()

    def call(channels: Channels) -> RunReport:
        with connect() as engine:
            return run_reminders(engine, entity, as_of=as_of, now=datetime.now(UTC), dry_run=dry_run,
                                 channels=channels)

    report = _with_channels(entity, dry_run, call)
    for row in report.rows():
        if row["action"] != "skip" or dry_run:
            logger.info("%(entity)s %(customer_id)s %(invoice_number)s %(action)s %(step)s: %(reason)s", row)
    return {"summary": report.summary(), "rows": report.rows()}


@task(name="statements-entity")
def statements_entity(entity: str, as_of: date, dry_run: bool, customers: list[str] | None = None) -> dict[str, Any]:
    logger = get_run_logger()

    def call(channels: Channels) -> RunReport:
        with connect() as engine:
            return run_statements(engine, entity, as_of=as_of, now=datetime.now(UTC), dry_run=dry_run,
                                  channels=channels, customers=customers)

    report = _with_channels(entity, dry_run, call)
    for row in report.rows():
        logger.info("%(entity)s %(customer_id)s statement %(period)s %(action)s: %(reason)s", row)
    summary = report.summary()
    # (one line whatever happened: "nothing due" and "did nothing" must not look alike to ops)
    logger.info("%s: %d statement(s) %s, %d sent, %d failed, %d skipped%s", entity, summary["statements"],
                "planned (dry run)" if dry_run else "due", summary["sent"], summary["failed"], summary["skipped"],
                f"; {summary['stale']}" if summary["stale"] else "")
    return {"summary": summary, "rows": report.rows()}


def _entities(entities: list[str] | None) -> list[str]:
    if entities:
        return entities
    with connect() as engine:
        return [str(r[0]) for r in engine.query("SELECT DISTINCT entity FROM fct_invoice ORDER BY 1")]


@flow(name="reminders", flow_run_name=run_namer("reminders"))
def reminders(entities: list[str] | None = None, as_of: date | None = None, dry_run: bool = False,
              statements: bool = True) -> dict[str, Any]:
    """Send today's reminders (or list them with ``dry_run``).

    Args:
        entities: Entity codes; empty means every entity with invoices.
        as_of: The day the reminders are for. Empty means the day the run starts.
        dry_run: List what would be sent, with step and reason, and send nothing.
        statements: Also send the monthly statements of account when the entity's statement day has come.
    """
    as_of = as_of or orch.today()
    out: dict[str, Any] = {}
    failed: dict[str, str] = {}
    codes = _entities(entities)
    for e in codes:
        # (one entity failing, a template or its SMTP, does not keep the others' reminders from leaving: the run
        # does them all, then fails naming it)
        result = _entity_result(e, remind_entity(e, as_of, dry_run, return_state=True), failed)
        if result is None:
            continue
        out[e] = result
        if statements:
            done = _entity_result(e, statements_entity(e, as_of, dry_run, return_state=True), failed)
            if done is not None:
                out[e]["statements"] = done
    create_table_artifact(key="reminders-sent", table=reminders_table(out, failed),
                          description=f"Reminders {'planned (dry run)' if dry_run else 'sent'} for {as_of}")
    if failed:
        raise EntitiesFailed("reminders", failed, out, len(codes))
    return out


def _entity_result(entity: str, state: Any, failed: dict[str, str]) -> dict[str, Any] | None:
    """The task's result, or None with the entity's failure recorded in ``failed`` and logged."""
    if state.is_completed():
        return dict(state.result())
    reason = orch.failed_task_reason(state)
    failed[entity] = reason
    get_run_logger().error("%s: the reminders run failed: %s", entity, reason)
    return None


def reminders_table(out: dict[str, Any], run_failed: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per entity for ops: invoices by action, messages, sent, failed, stale guard; an entity whose run failed
    has its row too, with the reason."""
    rows = []
    for entity, result in sorted(out.items()):
        summary = result["summary"]
        rows.append({"entity": entity, "dry_run": summary["dry_run"], "messages": summary["messages"],
                     "sent": summary["sent"], "failed": summary["failed"],
                     "by_action": ", ".join(f"{k} {v}" for k, v in sorted(summary["invoices"].items())),
                     "stale": summary["stale"] or ""})
    for entity, reason in sorted((run_failed or {}).items()):
        rows.append({"entity": entity, "dry_run": None, "messages": None, "sent": None, "failed": None,
                     "by_action": f"run failed: {reason}", "stale": ""})
    return rows


@flow(name="statements", flow_run_name=run_namer("statements"))
def statements(entities: list[str] | None = None, as_of: date | None = None, customers: list[str] | None = None,
               dry_run: bool = False) -> dict[str, Any]:
    """Statements of account: the scheduled monthly ones, or on demand for ``customers``.

    Args:
        entities: Entity codes; empty means every entity with invoices.
        as_of: The statement date. Empty means the day the run starts.
        customers: Customer ids for an on-demand statement (period = that day); empty means the monthly schedule.
        dry_run: List the statements that would be sent and send nothing.
    """
    as_of = as_of or orch.today()
    out = {e: statements_entity(e, as_of, dry_run, customers) for e in _entities(entities)}
    create_table_artifact(key="statements-sent", table=statements_table(out),
                          description=f"Statements of account {'planned (dry run)' if dry_run else 'sent'} for {as_of}")
    return out


def statements_table(out: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per entity for ops: the period, statements due, sent, failed, skipped, stale guard."""
    return [{"entity": entity, "dry_run": s["dry_run"], "period": s["period"] or "", "statements": s["statements"],
             "sent": s["sent"], "failed": s["failed"], "skipped": s["skipped"], "stale": s["stale"] or ""}
            for entity, s in ((e, r["summary"]) for e, r in sorted(out.items()))]
