"""Reminders (dunning) runbook: freshness guard → select → plan → render → record → send, per entity.

Thin on purpose: every decision lives in ``actions.dunning``. Retries sit on
nothing here: a resend must go through the outbox's recovery, never a blind retry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from prefect import flow, get_run_logger, task

from actions.dunning import Channels, run_reminders
from actions.dunning.providers import GoCardlessCollector, StripePayLinks
from actions.dunning.smtp import SmtpSender, load_smtp_settings
from warehouse.engine import connect


@task(name="remind-entity")
def remind_entity(entity: str, as_of: date, dry_run: bool) -> dict[str, Any]:
    logger = get_run_logger()
    sender = None if dry_run else SmtpSender(load_smtp_settings())
    channels = Channels(smtp=sender, paylinks=None if dry_run else StripePayLinks.for_entity(entity),
                        gocardless=None if dry_run else GoCardlessCollector.for_entity(entity))
    try:
        with connect() as engine:
            report = run_reminders(engine, entity, as_of=as_of, now=datetime.now(UTC), dry_run=dry_run,
                                   channels=channels)
    finally:
        if sender is not None:
            sender.close()
    for row in report.rows():
        if row["action"] != "skip" or dry_run:
            logger.info("%(entity)s %(customer_id)s %(invoice_number)s %(action)s %(step)s: %(reason)s", row)
    return {"summary": report.summary(), "rows": report.rows()}


@flow(name="reminders")
def reminders(entities: list[str] | None = None, as_of: date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Send today's reminders (or list them with ``dry_run``).

    Args:
        entities: Entity codes; empty means every entity with invoices.
        as_of: The day the reminders are for. Empty means the day the run starts.
        dry_run: List what would be sent, with step and reason, and send nothing.
    """
    as_of = as_of or date.today()
    if not entities:
        with connect() as engine:
            entities = [str(r[0]) for r in engine.query("SELECT DISTINCT entity FROM fct_invoice ORDER BY 1")]
    return {e: remind_entity(e, as_of, dry_run) for e in entities}
