"""Split across invoices, mark for the ERP, write-off request and assignment, on DuckDB and Postgres.

A tiny hand-built book: customer C1 owes I1 (200), I2 (200), I3 (50); payment P1
of 300 cites nothing, so the cascade cannot place it and a person splits it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from desk import actions, queries
from lettrage.config import WarehouseConfig
from lettrage.errors import DataError
from tests.integration.desk.conftest import settle
from tests.integration.reconcile.conftest import AS_OF, Book, open_book
from warehouse.reconcile import reconcile

IBAN = "FR7630006000011234567890189"


@pytest.fixture
def book(warehouse_config: WarehouseConfig) -> Iterator[Book]:
    with open_book(warehouse_config) as b:
        b.customer("C1", "ACME", IBAN)
        b.invoice("I1", "200.00")
        b.invoice("I2", "200.00")
        b.invoice("I3", "50.00")
        b.invoice("IUSD", "80.00", currency="USD")
        b.payment("P1", "300.00", "lump sum", payer_iban="DE89370400440532013000")
        settle(b)
        yield b


def test_split_applies_the_entered_amounts_and_the_reconciler_keeps_them(book: Book) -> None:
    engine = book.engine
    assert book.pairs() == set(), "the cascade should not place a lump sum that cites nothing"
    before = queries.encours_total(engine, "FR01")["EUR"]
    made = actions.split_payment(engine, "FR01", "P1", [("I1", Decimal("200.00")), ("I3", Decimal("50.00"))],
                                 "alice", "remittance by phone")
    assert [(d.kind, d.invoice_id, d.amount, d.actor) for d in made] == [
        ("confirm_match", "I1", Decimal("200.00"), "alice"), ("confirm_match", "I3", Decimal("50.00"), "alice")]
    assert made[0].after_json and made[0].after_json.count("split") == 1
    actions.refresh(engine, "FR01")
    assert book.pairs() == {("P1", "I1", Decimal("200.00")), ("P1", "I3", Decimal("50.00"))}
    assert {m["rule"] for m in book.matches()} == {"manual"}
    assert {m["state"] for m in book.matches()} == {"confirmed"}
    assert book.invoice_state("I1") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I3") == ("paid", Decimal("0.00"))
    assert book.invoice_state("I2")[1] == Decimal("200.00")
    assert queries.encours_total(engine, "FR01")["EUR"] == before - Decimal("250.00")
    reconcile(engine, as_of=AS_OF, entity="FR01")  # a full re-run keeps the person's split
    assert book.pairs() == {("P1", "I1", Decimal("200.00")), ("P1", "I3", Decimal("50.00"))}


@pytest.mark.parametrize(("parts", "message"), [
    ([("I1", "200.00"), ("I2", "150.00")], "add up to 350.00"),
    ([("I3", "60.00")], "more than invoice I3 still owes"),
    ([("IUSD", "10.00")], "in USD"),
    ([("I1", "10.001")], "at most two decimals"),
    ([("I1", "-5")], "more than zero"),
    ([("NOPE", "5")], "no invoice 'NOPE'"),
    ([("I1", "5"), ("I1", "6")], "twice"),
    ([], "at least one invoice"),
], ids=["over-payment", "over-invoice", "currency", "decimals", "negative", "unknown", "duplicate", "empty"])
def test_split_refuses_what_does_not_add_up(book: Book, parts: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(DataError, match=message):
        actions.split_payment(book.engine, "FR01", "P1", [(i, Decimal(a)) for i, a in parts], "alice")
    assert queries.decisions(book.engine, "FR01", invoice_id="I1") == []


def test_split_rejects_the_other_suggestions_of_the_payment(book: Book) -> None:
    engine = book.engine
    book.payment("P2", "200.00", "x", payer_iban=IBAN)  # two equal open items: suggested on I1 and I2
    reconcile(engine, as_of=AS_OF, entity="FR01", incremental=True)
    suggested = {m["invoice_id"] for m in book.matches(states=("suggested",)) if m["payment_id"] == "P2"}
    assert suggested == {"I1", "I2"}
    actions.split_payment(engine, "FR01", "P2", [("I2", Decimal("150.00")), ("I3", Decimal("50.00"))], "bob")
    actions.refresh(engine, "FR01")
    p2 = {(m["invoice_id"], m["state"]) for m in book.matches(states=("auto", "confirmed", "suggested", "rejected"))
          if m["payment_id"] == "P2"}
    assert p2 == {("I1", "rejected"), ("I2", "confirmed"), ("I3", "confirmed")}
    assert book.invoice_state("I2") == ("partially_paid", Decimal("50.00"))


def test_mark_for_the_erp_is_listed_with_who_and_when(book: Book) -> None:
    engine = book.engine
    x = engine.query_dicts("SELECT exception_id FROM fct_reconciliation_exception WHERE payment_id = 'P1'")
    assert x, "an unplaced payment should be an open exception"
    d = actions.mark_for_erp(engine, "FR01", actor="carla", reason="duplicate posting in SAP",
                             exception_id=x[0]["exception_id"])
    assert (d.kind, d.payment_id, d.actor) == ("erp_correction", "P1", "carla")
    actions.mark_for_erp(engine, "FR01", actor="carla", reason="wrong due date", invoice_id="I2")
    listed = actions.erp_queue(engine, ["FR01"])
    assert [(r["reason"], r["actor"]) for r in listed] == [("wrong due date", "carla"),
                                                          ("duplicate posting in SAP", "carla")]
    assert listed[0]["invoice_number"] == "I2" and listed[0]["created_at"] is not None
    assert actions.erp_queue(engine, ["DE01"]) == []
    with pytest.raises(DataError, match="say what"):
        actions.mark_for_erp(engine, "FR01", actor="carla", reason=" ", invoice_id="I2")
    rows = queries.queue(engine, ["FR01"], on=AS_OF)
    actions.working_on(engine, rows)
    assert {r["who"] for r in rows if r["payment_id"] == "P1"} == {"carla"}


def test_pending_write_off_request_holds_off_reminders_and_factoring(book: Book) -> None:
    from actions.dunning.schema import ensure_dunning_tables
    from actions.dunning.select import invoice_facts
    from actions.factoring.eligibility import REASONS
    from actions.factoring.schema import ensure_factoring_tables
    from actions.factoring.selection import gather_candidates
    from mappings.dunning import load_dunning_rules
    from warehouse.reconcile.decisions import record_decision

    engine = book.engine
    ensure_dunning_tables(engine)
    ensure_factoring_tables(engine)
    rules = load_dunning_rules()
    chased = {f.invoice_id for f in invoice_facts(engine, "FR01", AS_OF, rules)}
    assert {"I2", "I3"} <= chased
    with pytest.raises(DataError, match="more than the invoice still owes"):
        actions.request_write_off(engine, "FR01", "I3", reason="small balance", actor="cc", amount=Decimal(51))
    d = actions.request_write_off(engine, "FR01", "I3", reason="small balance", actor="cc")
    assert (d.kind, d.amount) == ("write_off_request", Decimal("50.00"))
    assert queries.pending_write_off(engine, "FR01", "I3")["actor"] == "cc"  # type: ignore[index]
    # listed with the reason it is not chased (a dry run shows it), never sent anything
    held_off = {f.invoice_id: f.write_off_requested for f in invoice_facts(engine, "FR01", AS_OF, rules)}
    assert set(held_off) == chased and held_off["I3"] and not held_off["I2"]
    held = {c.invoice_id: c.write_off_requested for c in gather_candidates(engine, "FR01", AS_OF)}
    assert held["I3"] is True and held["I2"] is False
    assert "write_off_requested" in REASONS
    # once written off (the request settled), the request no longer holds anything
    record_decision(engine, entity="FR01", kind="write_off", actor="cfo", invoice_id="I3", amount=Decimal("50.00"))
    assert queries.pending_write_off(engine, "FR01", "I3") is None


def test_dispute_assigned_to_a_person_or_a_department_reaches_their_queue(book: Book) -> None:
    from desk.users import add_user

    engine = book.engine
    add_user(engine, "sam", role="reviewer", entities=["FR01"], password=None, department="sales",
             email="sam@example.com")
    add_user(engine, "lea", role="reviewer", entities=["FR01"], password=None, department="logistics")
    add_user(engine, "dirk", role="reviewer", entities=["DE01"], password=None)
    actions.dispute(engine, "FR01", "I1", reason="wrong price", department="sales", actor="cc")
    actions.dispute(engine, "FR01", "I2", reason="not delivered", department="logistics", actor="cc", assignee="sam")
    with pytest.raises(DataError, match="no active desk user 'dirk'"):
        actions.dispute(engine, "FR01", "I3", reason="x", department="sales", actor="cc", assignee="dirk")
    actions.refresh(engine, "FR01")
    sam = actions.assigned_to(engine, ["FR01"], username="sam", department="sales")
    assert {(r["invoice_id"], r["assignee"], r["department"]) for r in sam} == {
        ("I1", None, "sales"), ("I2", "sam", "logistics")}
    lea = actions.assigned_to(engine, ["FR01"], username="lea", department="logistics")
    assert [r["invoice_id"] for r in lea] == ["I2"]
    assert actions.assigned_to(engine, ["DE01"], username="sam", department="sales") == []
    assert actions.assigned_dispute(engine, "FR01", "I2")["assignee"] == "sam"  # type: ignore[index]
    # a re-assignment is a new decision: the latest wins
    actions.dispute(engine, "FR01", "I2", reason="not delivered", department="logistics", actor="cc", assignee="lea")
    assert [r["invoice_id"] for r in actions.assigned_to(engine, ["FR01"], username="sam", department=None)] == []


def test_forecast_versus_actual_reuses_the_backtest(book: Book) -> None:
    from reports.backtest import forecast_backtest

    engine = book.engine
    on = date(2024, 9, 30)
    mine = queries.forecast_vs_actual(engine, "FR01", on)
    assert mine == [r for r in forecast_backtest(engine, on) if r["entity"] == "FR01"]
    assert all(isinstance(r["forecast"], Decimal) and isinstance(r["actual"], Decimal) for r in mine)
    assert queries.forecast_vs_actual(engine, "FR01", None) == []


def test_a_second_split_does_not_silently_change_a_colleague_s(book: Book) -> None:
    """Alice split P1 into I1 200 + I3 50; Bob then enters I1 = 100: refused, saying who confirmed what (he rejects
    Alice's match first to change it). Re-sending Alice's own amounts changes nothing."""
    engine = book.engine
    actions.split_payment(engine, "FR01", "P1", [("I1", Decimal("200.00")), ("I3", Decimal("50.00"))], "alice")
    actions.refresh(engine, "FR01")
    with pytest.raises(DataError, match=r"invoice I1 already holds 200.00 of this payment \(confirmed by alice"):
        actions.split_payment(engine, "FR01", "P1", [("I1", Decimal("100.00"))], "bob")
    again = actions.split_payment(engine, "FR01", "P1", [("I1", Decimal("200.00"))], "alice")
    actions.refresh(engine, "FR01")
    assert len(again) == 1
    assert book.pairs() == {("P1", "I1", Decimal("200.00")), ("P1", "I3", Decimal("50.00"))}


def test_two_people_confirming_rival_suggestions_apply_the_payment_once(book: Book,
                                                                      warehouse_config: WarehouseConfig) -> None:
    """P2 (200) fits I1 and I2 equally: two suggestions. Alice confirms I1; Bob, who still sees both, confirms I2:
    refused (it would apply 400 of a 200 payment). At the same moment, from two threads on two connections, one
    wins and the other is refused, whichever comes first."""
    import threading

    from warehouse.engine import connect
    from warehouse.reconcile import confirm_match

    engine = book.engine
    book.payment("P2", "200.00", "virement", payer_iban=IBAN)
    reconcile(engine, as_of=AS_OF, entity="FR01")
    rivals = {m["invoice_id"]: m["match_id"] for m in book.matches(states=("suggested",)) if m["payment_id"] == "P2"}
    assert set(rivals) == {"I1", "I2"}
    if engine.name == "duckdb":  # one process, one writer: the desk's threads share the lock
        confirm_match(engine, rivals["I1"], "alice")
        with pytest.raises(DataError, match=r"payment P2 of 200.00 EUR is already applied by people \(I1 200.00 by alice\)"):
            confirm_match(engine, rivals["I2"], "bob")
        return
    outcome: dict[str, str] = {}
    start = threading.Barrier(2)

    def confirm(invoice: str, who: str) -> None:
        with connect(warehouse_config) as own:
            start.wait()
            try:
                confirm_match(own, rivals[invoice], who)
                outcome[who] = "confirmed"
            except DataError as exc:
                outcome[who] = str(exc)

    threads = [threading.Thread(target=confirm, args=(i, w)) for i, w in (("I1", "alice"), ("I2", "bob"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v == "confirmed" for v in outcome.values()) == [False, True], outcome
    actions.refresh(engine, "FR01")
    assert sum(m["amount_applied"] for m in book.matches() if m["payment_id"] == "P2") == Decimal("200.00")


def test_two_people_confirming_the_same_suggestion_at_once_apply_it_once(book: Book,
                                                                          warehouse_config: WarehouseConfig) -> None:
    """Alice and Bob confirm P2's suggestion for I1 at the same moment, each request then bringing the entity up to
    date (a reconciliation each): the runs take turns, so the match stands once and I1 is paid once."""
    import threading

    from warehouse.engine import connect
    from warehouse.reconcile import confirm_match

    engine = book.engine
    book.payment("P2", "200.00", "virement", payer_iban=IBAN)
    reconcile(engine, as_of=AS_OF, entity="FR01")
    match_id = next(m["match_id"] for m in book.matches(states=("suggested",))
                    if m["payment_id"] == "P2" and m["invoice_id"] == "I1")
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def confirm(who: str) -> None:
        try:
            with connect(warehouse_config) as own:
                start.wait()
                confirm_match(own, match_id, who)
                actions.refresh(own, "FR01")
        except BaseException as exc:  # (reported below: a thread's exception is otherwise lost)
            failures.append(exc)

    threads = [threading.Thread(target=confirm, args=(w,)) for w in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    rows = engine.query("SELECT match_id, amount_applied FROM fct_match WHERE entity = 'FR01' AND payment_id = 'P2' "
                        "AND state IN ('auto', 'confirmed')")
    assert rows == [(match_id, Decimal("200.00"))]
    assert book.invoice_state("I1") == ("paid", Decimal("0.00")) and book.invoice_state("I2")[1] == Decimal("200.00")
