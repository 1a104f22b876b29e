"""Statements of account: when they are due, who gets one, what it lists (pure, hand-computed)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from actions.dunning.plan import render_message
from actions.dunning.statements import (
    Account,
    Movement,
    OpenItem,
    discount_for,
    scheduled_period,
    statement_messages,
)
from mappings.dunning import EarlyPaymentDiscount, load_dunning_rules

RULES = load_dunning_rules()
TERMS = EarlyPaymentDiscount(rate=D("0.02"), within_days=10)
AS_OF = date(2026, 12, 1)


@pytest.mark.parametrize(("as_of", "day", "catch_up", "expected"), [
    (date(2026, 12, 1), 1, 3, "2026-12"),
    (date(2026, 12, 4), 1, 3, "2026-12"),
    (date(2026, 12, 5), 1, 3, None),
    (date(2026, 11, 30), 1, 3, None),
    (date(2026, 12, 14), 15, 0, None),
    (date(2026, 12, 15), 15, 0, "2026-12"),
], ids=["on_the_day", "last_catch_up_day", "after_catch_up", "month_end", "day_before", "mid_month_day"])
def test_scheduled_period(as_of: date, day: int, catch_up: int, expected: str | None) -> None:
    assert scheduled_period(as_of, day, catch_up) == expected


def _item(**kw: object) -> OpenItem:
    base: dict[str, object] = dict(invoice_id="I1", invoice_number="FA-1", doc_type="invoice",
                                   issue_date=date(2026, 11, 25), due_date=date(2026, 12, 25), currency="EUR",
                                   amount_total=D("1234.56"), amount_open=D("1234.56"))
    return OpenItem(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(("item", "expected"), [
    (_item(), (D("2"), D("24.69"), date(2026, 12, 5))),  # 1234.56 * 2 % = 24.6912
    (_item(issue_date=date(2026, 11, 21)), (D("2"), D("24.69"), date(2026, 12, 1))),  # deadline today: still open
    (_item(issue_date=date(2026, 11, 20)), None),  # deadline yesterday
    (_item(amount_open=D("1000.00")), None),  # partly paid: the terms no longer hold
    (_item(disputed=True), None),
    (_item(doc_type="credit_note", amount_total=D("-50"), amount_open=D("-50")), None),
], ids=["available", "last_day", "expired", "partly_paid", "disputed", "credit_note"])
def test_discount_for(item: OpenItem, expected: tuple | None) -> None:
    d = discount_for(item, AS_OF, TERMS)
    assert (None if d is None else (d.rate_pct, d.amount, d.deadline)) == expected


def _account(cid: str, **kw: object) -> Account:
    base: dict[str, object] = dict(entity="FR01", customer_id=cid, name=f"Client {cid}", email=f"{cid}@x.fr",
                                   country="FR")
    return Account(**{**base, **kw})  # type: ignore[arg-type]


def test_selection_and_content() -> None:
    accounts = [
        _account("A", open_items=[_item(), _item(invoice_id="CN", invoice_number="AV-1", doc_type="credit_note",
                                                 amount_total=D("-100.00"), amount_open=D("-100.00"))],
                 movements=[Movement(date(2026, 11, 20), "payment", "P1", D("500.00"), "EUR", "bank_transfer",
                                     ("FA-0",)),
                            Movement(date(2026, 10, 1), "payment", "OLD", D("9.00"), "EUR")],  # before the window
                 last_statement=date(2026, 11, 1)),
        _account("B", movements=[Movement(date(2026, 11, 28), "credit_note", "AV-2", D("80.00"), "EUR"),
                                 Movement(date(2026, 11, 29), "refund", "AV-2", D("80.00"), "EUR")]),
        _account("C"),  # nothing open, nothing moved
        _account("D", email=None, open_items=[_item(invoice_id="I4")]),
    ]
    messages, skipped = statement_messages(accounts, "2026-12", AS_OF, RULES)
    assert [m.customer_id for m in messages] == ["A", "B"]
    assert {a.customer_id: r for a, r in skipped} == {
        "C": "nothing open and no movement since 2026-10-31", "D": "no email address in dim_customer"}
    a = messages[0]
    assert a.items == [("customer:A", "statement:2026-12")] and a.kind == "statement"
    assert a.amount_total == D("1134.56") and a.currency == "EUR"
    assert [m.reference for m in a.payload["movements"]] == ["P1"]  # type: ignore[union-attr]
    render_message(a, AS_OF, RULES)
    assert a.subject == "Relevé de compte au 01/12/2026 — Client A"
    body = a.body
    assert "Facture FA-1 du 25/11/2026, échéance 25/12/2026 : 1\u202f234,56 €" in body
    assert "Avoir AV-1 du 25/11/2026 : -100,00 €" in body
    assert "Solde : 1\u202f134,56 €" in body
    assert "Règlements et avoirs depuis le 01/11/2026" in body
    assert "20/11/2026 règlement reçu, imputé sur FA-0 : 500,00 €" in body
    assert "Facture FA-1 : 2 % (24,69 €) si réglée intégralement au plus tard le 05/12/2026" in body
    b = messages[1]
    render_message(b, AS_OF, RULES)
    assert "(aucune)" in b.body and "avoir AV-2 : 80,00 €" in b.body and b.amount_total == 0
    assert "29/11/2026 remboursement de l'avoir AV-2 versé : 80,00 €" in b.body


def test_english_statement_and_several_currencies_get_no_single_amount() -> None:
    acc = _account("E", country="GB", open_items=[_item(), _item(invoice_id="I2", invoice_number="FA-2",
                                                                currency="USD", amount_total=D("10"),
                                                                amount_open=D("10"))])
    (msg,), _ = statement_messages([acc], "2026-12-01", AS_OF, RULES)
    render_message(msg, AS_OF, RULES)
    assert msg.language == "en" and msg.subject.startswith("Statement of account as of 1 Dec 2026")
    assert msg.amount_total == 0  # no pay link across currencies
    assert "Balance in EUR: EUR 1,234.56" in msg.body and "Balance in USD: USD 10.00" in msg.body
    assert "Invoice FA-1: 2% (EUR 24.69) if paid in full by 5 Dec 2026" in msg.body
