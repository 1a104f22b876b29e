"""Templates in French and English: subject, amounts, link, penalties; money never through a float."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from actions.dunning.model import InvoiceFacts
from actions.dunning.plan import customer_messages, render_message
from actions.dunning.render import money
from actions.dunning.rules import plan
from mappings.dunning import load_dunning_rules

AS_OF = date(2026, 11, 25)
RULES = load_dunning_rules()


def _facts(country: str, **kw: object) -> list[InvoiceFacts]:
    base = dict(entity="FR01", customer_id="C1", currency="EUR", customer_name="Garage Moreau SAS",
                email="compta@garage-moreau.fr", country=country, status="overdue")
    return [
        InvoiceFacts(invoice_id="I1", invoice_number="FA-2026-000001", due_date=date(2026, 11, 18),
                     amount_open=D("1234.56"), amount_total=D("1234.56"), issue_date=date(2026, 10, 4), **base, **kw),
        InvoiceFacts(invoice_id="I2", invoice_number="FA-2026-000002", due_date=date(2026, 11, 25),
                     amount_open=D("400.00"), amount_total=D("1000.00"), issue_date=date(2026, 10, 11), **base, **kw),
    ]


@pytest.mark.parametrize(("country", "subject", "amount", "word"), [
    ("FR", "Deuxième relance", "1\u202f634,56 €", "Facture FA-2026-000002"),
    ("GB", "Second reminder", "EUR 1,634.56", "Invoice FA-2026-000002"),
], ids=["fr", "en"])
def test_one_email_per_customer_in_their_language(country: str, subject: str, amount: str, word: str) -> None:
    messages = customer_messages(plan(_facts(country), AS_OF, RULES), AS_OF, RULES)
    assert len(messages) == 1
    msg = messages[0]
    msg.pay_link = "http://127.0.0.1/stripe/pay/plink_1"
    render_message(msg, AS_OF, RULES)
    assert msg.subject.startswith(subject) and "Garage Moreau SAS" in msg.subject
    assert amount in msg.body and word in msg.body and "FA-2026-000001" in msg.body
    assert "http://127.0.0.1/stripe/pay/plink_1" in msg.body
    assert msg.amount_total == D("1634.56")
    assert sorted(msg.items) == [("I1", "firmer"), ("I2", "reminder")]


def test_formal_notice_states_computed_penalties() -> None:
    facts = [InvoiceFacts(entity="FR01", invoice_id="I9", invoice_number="FA-2025-000009", customer_id="C1",
                          due_date=date(2025, 1, 31), currency="EUR", amount_open=D("1000.00"),
                          amount_total=D("1000.00"), issue_date=date(2025, 1, 1), email="a@b.fr", country="FR",
                          customer_name="Client", steps_done=frozenset({"reminder"}))]
    as_of = date(2025, 3, 2)  # 30 days: interest 10.81 (see test_penalties), indemnity 40.00
    messages = customer_messages(plan(facts, as_of, RULES), as_of, RULES, lambda ids: {})
    (msg,) = messages
    assert msg.kind == "formal_notice"
    render_message(msg, as_of, RULES)
    assert msg.subject.startswith("Mise en demeure")
    assert "intérêts de retard 10,81 €" in msg.body and "indemnité forfaitaire 40,00 €" in msg.body
    assert "Total réclamé : 1\u202f050,81 €" in msg.body


@pytest.mark.parametrize(("amount", "lang", "expected"), [
    (D("-5"), "fr", "-5,00 €"), (D("1000000.5"), "en", "EUR 1,000,000.50"), (D("0.005"), "fr", "0,00 €"),
], ids=["negative_fr", "millions_en", "half_even"])
def test_money_format(amount: D, lang: str, expected: str) -> None:
    assert money(amount, "EUR", lang) == expected
