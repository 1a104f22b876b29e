"""Assignments and comments notify by e-mail through the dunning outbox, against a real aiosmtpd on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from actions.dunning.smtp import SmtpSettings
from desk import actions, notify
from desk.users import add_user
from lettrage.config import WarehouseConfig
from tests.integration.desk.conftest import settle
from tests.integration.dunning.conftest import Mailbox, smtp_server  # noqa: F401  (the fixture)
from tests.integration.reconcile.conftest import Book, open_book


@pytest.fixture
def book(warehouse_config: WarehouseConfig) -> Iterator[Book]:
    with open_book(warehouse_config) as b:
        b.customer("C1", "ACME")
        b.invoice("I1", "200.00", number="F-2024-001")
        settle(b)
        add_user(b.engine, "sam", role="reviewer", entities=["FR01"], password=None, department="sales",
                 email="sam@example.com")
        add_user(b.engine, "sue", role="reviewer", entities=["*"], password=None, department="sales",
                 email="sue@example.com")
        add_user(b.engine, "cc", role="credit_controller", entities=["FR01"], password=None, email="cc@example.com")
        add_user(b.engine, "dirk", role="reviewer", entities=["DE01"], password=None, department="sales",
                 email="dirk@example.com")
        yield b


def _outbox(engine: Any) -> list[dict[str, Any]]:
    return engine.query_dicts("SELECT recipients, subject, state, kind FROM dunning_outbox WHERE kind = 'desk_notice' "
                              "ORDER BY recipients, subject")


def test_assignment_and_comment_are_recorded_then_sent(book: Book, smtp_server: tuple[Mailbox, int]) -> None:  # noqa: F811
    box, port = smtp_server
    smtp = SmtpSettings(host="127.0.0.1", port=port, security="none")
    engine = book.engine
    inv = engine.query_dicts("SELECT * FROM fct_invoice WHERE invoice_id = 'I1'")[0]

    d = actions.dispute(engine, "FR01", "I1", reason="wrong price", department="sales", actor="cc")
    ids = notify.on_dispute(engine, d, inv, "https://desk.example")
    # the department's members who see FR01, never the author, never someone outside the entity
    assert [r["recipients"] for r in _outbox(engine)] == ["sam@example.com", "sue@example.com"]
    assert {r["state"] for r in _outbox(engine)} == {"intent"}  # intent first
    assert len(ids) == 2 and notify.on_dispute(engine, d, inv) == []  # the outbox key makes it happen once
    assert notify.deliver(engine, "FR01", smtp) == 2
    assert {r["state"] for r in _outbox(engine)} == {"sent"}
    assert sorted(m["X-Envelope-To"] for m in box.messages) == ["sam@example.com", "sue@example.com"]
    first = box.messages[0]
    assert "F-2024-001" in first["Subject"] and "https://desk.example/e/FR01/invoice/I1" in first.get_content()

    d2 = actions.dispute(engine, "FR01", "I1", reason="wrong price", department="sales", actor="cc", assignee="sam")
    notify.on_dispute(engine, d2, inv)
    actions.refresh(engine, "FR01")  # as the desk does after a decision: the invoice now shows as disputed
    note = actions.comment(engine, "FR01", author="sue", body="I will call them", invoice_id="I1", customer_id="C1")
    notify.on_comment(engine, note, inv)
    assert notify.deliver(engine, "FR01", smtp) == 2
    latest = [(m["X-Envelope-To"], m["Subject"]) for m in box.messages[2:]]
    assert ("sam@example.com", "[Lettrage] Dispute on F-2024-001 assigned to sam") in latest
    assert ("sam@example.com", "[Lettrage] Comment on F-2024-001") in latest  # the assignee hears of the comment
    assert "I will call them" in box.messages[-1].get_content()


def test_without_smtp_the_notice_waits_in_the_outbox(book: Book) -> None:
    engine = book.engine
    inv = engine.query_dicts("SELECT * FROM fct_invoice WHERE invoice_id = 'I1'")[0]
    d = actions.dispute(engine, "FR01", "I1", reason="late delivery", department="sales", actor="cc", assignee="sam")
    assert len(notify.on_dispute(engine, d, inv)) == 1
    assert notify.deliver(engine, "FR01", None) == 0
    assert [(r["recipients"], r["state"]) for r in _outbox(engine)] == [("sam@example.com", "intent")]
