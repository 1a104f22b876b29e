"""Statements of account, promises to pay and history-aware wording, against real SMTP and the sandbox, on both engines."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from actions.dunning import (
    Channels,
    SmtpSender,
    SmtpSettings,
    record_promise_to_pay,
    run_reminders,
    run_statements,
)
from actions.dunning.providers import StripePayLinks
from lettrage.config import WarehouseConfig
from lettrage.errors import DataError
from warehouse.engine import Engine, connect

from .conftest import AS_OF, STRIPE_KEY, _insert
from .test_reminders_smtp import _run

DEC1 = date(2026, 12, 1)


def _movements(engine: Engine) -> None:
    """C1 paid 600 of FA-11 on 10 Nov; C2 got a new invoice (discount still open) and a credit note."""
    _insert(engine, "fct_payment", {"entity": "FR01", "payment_id": "PAY1", "channel": "bank_transfer",
                                    "customer_id": "C1", "amount": "600.00", "currency": "EUR",
                                    "paid_on": date(2026, 11, 10), "status": "succeeded"})
    _insert(engine, "fct_match", {"entity": "FR01", "match_id": "M1", "payment_id": "PAY1", "invoice_id": "I11",
                                  "amount_applied": "600.00", "currency": "EUR", "rule": "exact_reference",
                                  "confidence": "1", "matched_at": datetime(2026, 11, 10, tzinfo=UTC),
                                  "state": "auto"})
    _insert(engine, "fct_invoice", {"entity": "FR01", "invoice_id": "I22", "invoice_number": "FA-22",
                                    "customer_id": "C2", "doc_type": "invoice", "issue_date": date(2026, 11, 28),
                                    "due_date": date(2026, 12, 28), "currency": "EUR", "amount_total": "500.00",
                                    "amount_open": "500.00", "status": "open", "disputed": False, "factored": False})
    _insert(engine, "fct_invoice", {"entity": "FR01", "invoice_id": "CN2", "invoice_number": "AV-2",
                                    "customer_id": "C2", "doc_type": "credit_note", "issue_date": date(2026, 11, 20),
                                    "due_date": date(2026, 11, 20), "currency": "EUR", "amount_total": "-100.00",
                                    "amount_open": "-100.00", "status": "open", "disputed": False,
                                    "factored": False})


def _text(mail: Any) -> str:
    return str(mail.get_content()).replace("\r\n", "\n")


def _statements(config: WarehouseConfig, port: int, sb: Any, as_of: date, customers: list[str] | None = None) -> Any:
    with SmtpSender(SmtpSettings(port=port, security="none")) as smtp, connect(config) as engine:
        return run_statements(engine, "FR01", as_of=as_of, customers=customers, channels=Channels(
            smtp=smtp, paylinks=StripePayLinks(STRIPE_KEY, sb.stripe_base)))


def test_monthly_statements_exactly_once_with_movements_discount_and_link(
        book: WarehouseConfig, smtp_server: Any, provider_sandbox: Any) -> None:
    box, port = smtp_server
    with connect(book) as engine:
        _movements(engine)
    assert _statements(book, port, provider_sandbox, AS_OF).period is None  # the 25th is not the statement day
    assert box.messages == []
    report = _statements(book, port, provider_sandbox, DEC1)
    assert report.period == "2026-12" and report.failed == 0
    mails = {m["To"]: m for m in box.messages}
    # factored (C8) and fully paid (C9) customers have nothing to state; every other customer gets one
    assert set(mails) == {"compta@client-un.fr", "ap@client-two.example", "compta@litige.fr", "compta@promesse.fr",
                          "compta@prelevement.fr", "compta@petit.fr", "compta@en-route.fr"}
    assert {r["customer_id"]: r["reason"] for r in report.rows() if r["action"] == "skip"} == {
        "C8": "nothing open and no movement since 2026-10-31", "C9": "nothing open and no movement since 2026-10-31"}
    fr = mails["compta@client-un.fr"]
    assert fr["Subject"] == "Relevé de compte au 01/12/2026 — Client C1" and fr["Content-Language"] == "fr"
    body = _text(fr)
    assert "Facture FA-11 du 01/10/2026, échéance 18/11/2026 (13 jours de retard) : 400,00 € sur 1\u202f000,00 €" in body
    assert "Solde : 650,00 €" in body
    assert "10/11/2026 règlement reçu, imputé sur FA-11 : 600,00 €" in body
    assert "Escompte" not in body  # issued 1 Oct, 10 days: long gone
    created = provider_sandbox.state.created_for("FR01").objects
    links = {o["url"]: o for o in created.values() if o.get("object") == "payment_link"}
    (url,) = [u for u in links if u in body]
    assert links[url]["metadata"]["invoice_number"].split() == ["FA-11", "FA-12"]
    en = _text(mails["ap@client-two.example"])
    assert "Balance: EUR 3,400.00" in en  # 3000 + 500 - 100 credit note
    assert "Credit note AV-2 of 20 Nov 2026: -EUR 100.00" in en and "credit note AV-2: EUR 100.00" in en
    assert "Invoice FA-22: 2% (EUR 10.00) if paid in full by 8 Dec 2026" in en
    litige = _text(mails["compta@litige.fr"])
    assert "(en cours d'examen)" in litige
    # exactly once per (entity, customer, period)
    again = _statements(book, port, provider_sandbox, DEC1)
    assert again.recorded == 0 and len(box.messages) == 7
    assert {r["reason"] for r in again.rows()} >= {"statement 2026-12 already recorded"}
    # on demand, the day after: a new period for that customer only, listing what moved since the last one
    demand = _statements(book, port, provider_sandbox, date(2026, 12, 2), ["C1"])
    assert demand.period == "2026-12-02" and demand.sent == 1 and len(box.messages) == 8
    assert "Règlements et avoirs depuis le 01/12/2026 :\n  (aucun)" in _text(box.messages[-1])
    with connect(book) as engine:
        keys = engine.query("SELECT object_id, step FROM dunning_outbox_item WHERE object_id = 'customer:C1' "
                            "ORDER BY step")
    assert keys == [("customer:C1", "statement:2026-12"), ("customer:C1", "statement:2026-12-02")]


def test_promise_to_pay_is_recorded_as_a_decision_and_read_back(book: WarehouseConfig) -> None:
    with connect(book) as engine:
        decision = record_promise_to_pay(engine, "FR01", "I21", date(2026, 12, 10), "sophie", "called, pays on 10th",
                                         today=AS_OF)
        assert decision.kind == "promise_to_pay" and decision.amount == Decimal("3000.00")
        row = engine.query_dicts("SELECT after_json, reason, actor FROM decision WHERE id = :id", {"id": decision.id})[0]
        assert row["after_json"] == '{"promised_on": "2026-12-10"}' and row["actor"] == "sophie"
        report = run_reminders(engine, "FR01", as_of=AS_OF, dry_run=True)
        reasons = {r["invoice_number"]: r["reason"] for r in report.rows()}
        assert reasons["FA-21"] == "promise to pay until 2026-12-10"
        later = run_reminders(engine, "FR01", as_of=date(2026, 12, 11), dry_run=True)
        fa21 = {r["invoice_number"]: r for r in later.rows()}["FA-21"]
        assert fa21["action"] == "task" and fa21["step"] == "phone_call"  # broken promise: chased again


@pytest.mark.parametrize(("invoice", "promised", "message"), [
    ("NOPE", date(2026, 12, 10), "no invoice 'NOPE' of FR01"),
    ("I91", date(2026, 12, 10), "is paid with nothing open"),
    ("I21", date(2026, 11, 24), "before today"),
], ids=["unknown_invoice", "paid_invoice", "past_day"])
def test_promise_to_pay_refuses_what_would_silence_reminders_by_mistake(
        book: WarehouseConfig, invoice: str, promised: date, message: str) -> None:
    with connect(book) as engine, pytest.raises(DataError, match=message):
        record_promise_to_pay(engine, "FR01", invoice, promised, "sophie", today=AS_OF)


def test_firmer_mail_cites_the_reminder_actually_sent(
        book: WarehouseConfig, smtp_server: Any, provider_sandbox: Any) -> None:
    box, port = smtp_server
    _run(book, port, provider_sandbox)  # 25 Nov: C1 gets its first mail (no "despite")
    first = next(m for m in box.messages if m["To"] == "compta@client-un.fr")
    assert "Malgré" not in first.get_content()
    with connect(book) as engine:
        sent = engine.query("SELECT planned_on, sent_at FROM fct_dunning_action "
                            "WHERE invoice_id = 'I12' AND step = 'reminder'")
    # (sent, and cited by the day it bears: the run's, 25 November, whatever the clock said when it left)
    assert sent[0][1] is not None
    day = sent[0][0].strftime("%d/%m/%Y")
    assert day == "25/11/2026"
    with SmtpSender(SmtpSettings(port=port, security="none")) as smtp, connect(book) as engine:
        run_reminders(engine, "FR01", as_of=date(2026, 11, 30), channels=Channels(
            smtp=smtp, paylinks=StripePayLinks(STRIPE_KEY, provider_sandbox.stripe_base)))
    second = [m for m in box.messages if m["To"] == "compta@client-un.fr"][1]
    assert second["Subject"].startswith("Deuxième relance")
    assert f"Malgré notre relance du {day}, les factures suivantes restent impayées." in second.get_content()
