"""Reminders run for a past day (``reminders send --as-of D``, a catch-up): the timeline is the days the reminders
bear, on DuckDB and Postgres. A reminder dated 10 November but sent (replayed) on 24 November is a reminder of 10
November: the formal notice's wait after it counts from then, and the notice cites that date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from actions.dunning import run_reminders
from actions.dunning.schema import ensure_dunning_tables
from lettrage.config import WarehouseConfig
from warehouse.engine import connect

from .conftest import AS_OF


def _sent(engine: Any, step: str, planned_on: date, sent_at: datetime) -> None:
    engine.execute(
        "INSERT INTO fct_dunning_action (entity, invoice_id, step, customer_id, channel, planned_on, sent_at) "
        "VALUES ('FR01', 'I99', :step, 'C2', 'email', :planned, :sent)",
        {"step": step, "planned": planned_on, "sent": sent_at})


def _plan(config: WarehouseConfig, firmer_planned: date) -> dict[str, Any]:
    with connect(config) as engine:
        ensure_dunning_tables(engine)
        engine.execute("DELETE FROM fct_dunning_action WHERE invoice_id = 'I99'")
        engine.execute(
            "INSERT INTO fct_invoice (entity, invoice_id, invoice_number, customer_id, doc_type, issue_date, due_date, "
            "currency, amount_total, amount_open, status, disputed, factored) SELECT 'FR01', 'I99', 'FA-99', 'C2', "
            "'invoice', DATE '2026-09-01', DATE '2026-10-01', 'EUR', 2000.00, 2000.00, 'overdue', FALSE, FALSE "
            "WHERE NOT EXISTS (SELECT 1 FROM fct_invoice WHERE invoice_id = 'I99')")
        # both sent today by a catch-up run, dated the days the run was for
        late = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        _sent(engine, "reminder", date(2026, 10, 10), late)
        _sent(engine, "firmer", firmer_planned, late)
        rows = run_reminders(engine, "FR01", as_of=AS_OF, dry_run=True).rows()
    return next(r for r in rows if r["invoice_number"] == "FA-99")


def test_the_formal_notice_waits_after_the_day_the_last_reminder_bears(book: WarehouseConfig) -> None:
    """Sent on 24 November, the firmer reminder dated 10 November is 15 days old on 25 November: the formal notice
    is due. Dated 20 November, it is 5 days old: the notice waits 8 days after it (mappings/dunning.yaml)."""
    due = _plan(book, date(2026, 11, 10))
    waits = _plan(book, date(2026, 11, 20))
    assert due["step"] == "formal_notice", due
    assert waits["step"] is None and "sent 5 day(s) ago" in waits["reason"], waits
