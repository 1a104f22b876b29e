"""The desk's reads and its confirm-then-refresh on both engines, on a tiny hand-built book."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from desk import actions, queries
from lettrage.config import WarehouseConfig
from tests.integration.desk.conftest import settle
from tests.integration.reconcile.conftest import AS_OF, Book, open_book

IBAN = "FR7630006000011234567890189"


@pytest.fixture
def book(warehouse_config: WarehouseConfig) -> Iterator[Book]:
    with open_book(warehouse_config) as b:
        b.customer("C1", "ACME", IBAN)
        b.invoice("I1", "200.00")
        b.invoice("I2", "200.00")
        b.invoice("I3", "50.00")
        b.payment("P1", "200.00", "x", payer_iban=IBAN)  # two equal open items: suggested, never applied
        settle(b)
        yield b


def test_confirm_through_the_desk_pays_the_invoice_and_lowers_the_encours(book: Book) -> None:
    engine = book.engine
    queue = queries.queue(engine, ["FR01"], kind="suggested", on=AS_OF)
    assert {r["invoice_id"] for r in queue} == {"I1", "I2"}
    assert queries.queue(engine, ["DE01"], on=AS_OF) == []
    before = queries.encours_total(engine, "FR01")["EUR"]
    chosen = next(r for r in queue if r["invoice_id"] == "I2")
    decision = actions.decide_match(engine, "FR01", chosen["item_id"], "confirm", "alice", "customer called")
    assert decision.kind == "confirm_match" and decision.actor == "alice"
    took = actions.refresh(engine, "FR01")
    assert took.reconcile_s >= 0 and took.marts_s >= 0
    assert book.invoice_state("I2") == ("paid", Decimal("0.00"))
    assert queries.encours_total(engine, "FR01")["EUR"] == before - Decimal("200.00")
    assert queries.match_rate(engine, "FR01")["confirmed"] == 1


def test_dispute_and_comment_on_both_engines(book: Book) -> None:
    engine = book.engine
    actions.dispute(engine, "FR01", "I3", reason="wrong price", department="sales", actor="bob")
    actions.comment(engine, "FR01", author="bob", body="sales will call", invoice_id="I3", customer_id="C1")
    actions.refresh(engine, "FR01")
    inv = queries.invoice(engine, "FR01", "I3")
    assert inv is not None and inv["disputed"] is True
    assert [c["body"] for c in actions.comments(engine, "FR01", invoice_id="I3")] == ["sales will call"]
    assert [d["kind"] for d in queries.decisions(engine, "FR01", invoice_id="I3")] == ["dispute"]
    statuses = {r["status"] for r in queries.encours_by_status(engine, "FR01")}
    assert "disputed" in statuses
