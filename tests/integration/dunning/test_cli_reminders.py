"""``lettrage reminders statements`` and ``lettrage reminders promise`` on a seeded warehouse (both engines)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from typer.testing import CliRunner

from lettrage.cli_reminders import app
from lettrage.config import WarehouseConfig
from warehouse.engine import connect

RUNNER = CliRunner()


def test_statements_lists_on_demand_and_scheduled_without_sending(book: WarehouseConfig) -> None:
    on_demand = RUNNER.invoke(app, ["statements", "-e", "FR01", "-c", "C1", "-c", "C2", "--as-of", "2026-11-25"],
                              env={"COLUMNS": "250"})
    assert on_demand.exit_code == 0, on_demand.output
    assert "(dry run)" in on_demand.output and "2026-11-25" in on_demand.output
    assert "Client C1" in on_demand.output and "650.00 EUR" in on_demand.output and "Client C3" not in on_demand.output
    off_day = RUNNER.invoke(app, ["statements", "-e", "FR01", "--as-of", "2026-11-25"])
    assert off_day.exit_code == 0 and "no statement due" in off_day.output
    with connect(book) as engine:
        assert not engine.table_exists("dunning_outbox")


def test_promise_records_a_decision_or_says_why_not(book: WarehouseConfig) -> None:
    future = date.today().replace(year=date.today().year + 1).isoformat()
    ok = RUNNER.invoke(app, ["promise", "-e", "FR01", "-i", "I21", "--on", future, "--actor", "sophie",
                             "--reason", "phone call"])
    assert ok.exit_code == 0, ok.output
    assert f"promise to pay recorded for FR01/I21 until {future}" in ok.output
    bad = RUNNER.invoke(app, ["promise", "-e", "FR01", "-i", "NOPE", "--on", future, "--actor", "sophie"])
    assert bad.exit_code == 2 and "no invoice 'NOPE' of FR01" in bad.output
    with connect(book) as engine:
        rows = engine.query("SELECT invoice_id, actor, reason FROM decision WHERE kind = 'promise_to_pay' "
                            "ORDER BY created_at")
    assert rows[-1] == ("I21", "sophie", "phone call")


def test_a_promise_recorded_for_a_past_day_is_checked_against_that_day(book: WarehouseConfig) -> None:
    """Replaying what a customer said on 14 October (`--as-of`): a promise for 20 October was a future day then.
    Without it, the day is before today and refused, saying so."""
    replayed = RUNNER.invoke(app, ["promise", "-e", "FR01", "-i", "I21", "--on", "2026-10-20", "--actor", "sophie",
                                   "--as-of", "2026-10-14"])
    assert replayed.exit_code == 0, replayed.output
    late = RUNNER.invoke(app, ["promise", "-e", "FR01", "-i", "I21", "--on", "2026-10-20", "--actor", "sophie"])
    assert late.exit_code == 2 and "before today" in late.output


def test_dispute_records_a_decision_that_stops_reminders(book: WarehouseConfig) -> None:
    """`lettrage reminders dispute`: a customer contests FA-21 (named by its number); the decision the desk writes,
    so the next planning skips the invoice as disputed. An unknown department or invoice says why."""
    from actions.dunning.run import plan_run
    from mappings.dunning import load_dunning_rules

    ok = RUNNER.invoke(app, ["dispute", "-e", "FR01", "-i", "FA-21", "--reason", "goods damaged", "--actor", "sophie"])
    assert ok.exit_code == 0, ok.output
    assert "dispute recorded for FR01/FA-21" in ok.output
    bad = RUNNER.invoke(app, ["dispute", "-e", "FR01", "-i", "FA-21", "--reason", "x", "--actor", "s",
                              "--department", "legal"])
    assert bad.exit_code == 2 and "unknown department 'legal'" in bad.output
    with connect(book) as engine:
        rows = engine.query("SELECT invoice_id, actor, reason FROM decision WHERE kind = 'dispute'")
        planned = {p.facts.invoice_id: p for p in plan_run(engine, "FR01", date(2026, 11, 25), load_dunning_rules(),
                                                            dry_run=True)[0]}
    assert rows == [("I21", "sophie", "goods damaged")]
    assert planned["I21"].reason == "disputed (decision)"


def test_a_dispute_closed_lets_reminders_take_the_invoice_again(book: WarehouseConfig) -> None:
    """`lettrage reminders resolve-dispute`: the credit note the customer asked for was issued; the latest dispute
    decision closes it, so the next planning plans FA-21 again. Closing one that is not open says so."""
    from actions.dunning.run import plan_run
    from mappings.dunning import load_dunning_rules

    none = RUNNER.invoke(app, ["resolve-dispute", "-e", "FR01", "-i", "FA-21", "--reason", "x", "--actor", "s"])
    assert none.exit_code == 2 and "no open dispute" in none.output
    RUNNER.invoke(app, ["dispute", "-e", "FR01", "-i", "FA-21", "--reason", "goods damaged", "--actor", "sophie"])
    ok = RUNNER.invoke(app, ["resolve-dispute", "-e", "FR01", "-i", "FA-21", "--reason", "credit note AV-7 issued",
                             "--actor", "sophie"])
    assert ok.exit_code == 0, ok.output
    with connect(book) as engine:
        planned = {p.facts.invoice_id: p for p in plan_run(engine, "FR01", date(2026, 11, 25), load_dunning_rules(),
                                                            dry_run=True)[0]}
        history = engine.query("SELECT reason FROM decision WHERE kind = 'dispute' ORDER BY created_at, id")
    assert not planned["I21"].reason.startswith("disputed"), planned["I21"].reason
    assert history == [("goods damaged",), ("credit note AV-7 issued",)]


def test_a_dispute_closed_after_the_reconcile_counts_at_once(book: WarehouseConfig) -> None:
    """The latest decision wins both ways between two reconciles: FA-21 was disputed and the night's reconcile wrote
    it so (fct_invoice disputed); closed the next morning, the day's reminders take it at once, as a dispute recorded
    since the reconcile stops them at once. FA-12's dispute closed the same way stays while its customer's card
    chargeback is open (the reconcile would show it disputed again)."""
    from actions.dunning.run import plan_run
    from mappings.dunning import load_dunning_rules

    for number in ("FA-21", "FA-12"):
        RUNNER.invoke(app, ["dispute", "-e", "FR01", "-i", number, "--reason", "goods damaged", "--actor", "sophie"])
    with connect(book) as engine:
        # what the night's reconcile writes (70_invoice): both disputed, one also by an open chargeback
        engine.execute("UPDATE fct_invoice SET disputed = TRUE, status = 'disputed', _loaded_at = :at "
                       "WHERE invoice_id IN ('I21', 'I12')", {"at": datetime.now(UTC)})
        engine.execute("INSERT INTO fct_reconciliation_exception (entity, exception_id, kind, invoice_id, amount, "
                       "detail, opened_at) VALUES ('FR01', 'X1', 'chargeback', 'I12', 300.00, 'card dispute', :at)",
                       {"at": datetime.now(UTC)})
        before = {p.facts.invoice_id: p.reason for p in plan_run(engine, "FR01", date(2026, 11, 25),
                                                                  load_dunning_rules(), dry_run=True)[0]}
    for number in ("FA-21", "FA-12"):
        ok = RUNNER.invoke(app, ["resolve-dispute", "-e", "FR01", "-i", number, "--reason", "credit note issued",
                                 "--actor", "sophie"])
        assert ok.exit_code == 0, ok.output
    with connect(book) as engine:
        after = {p.facts.invoice_id: p for p in plan_run(engine, "FR01", date(2026, 11, 25), load_dunning_rules(),
                                                          dry_run=True)[0]}
    assert before["I21"] == "disputed" and before["I12"] == "disputed"
    assert not after["I21"].reason.startswith("disputed"), after["I21"].reason
    assert after["I21"].facts.status == "overdue"
    assert after["I12"].reason == "disputed"
