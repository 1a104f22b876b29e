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
    ("FR", "Relance : règlement en retard", "1\u202f634,56 €", "Facture FA-2026-000002"),
    ("GB", "Reminder: payment overdue", "EUR 1,634.56", "Invoice FA-2026-000002"),
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
                          customer_name="Client", steps_done=frozenset({"reminder"}),
                          reminders_sent=(("reminder", date(2025, 2, 5)),))]
    as_of = date(2025, 3, 2)  # 30 days: interest 10.81 (see test_penalties), indemnity 40.00
    messages = customer_messages(plan(facts, as_of, RULES), as_of, RULES, lambda ids: {})
    (msg,) = messages
    assert msg.kind == "formal_notice"
    render_message(msg, as_of, RULES)
    assert msg.subject.startswith("Mise en demeure")
    assert "Malgré notre relance du 05/02/2025, les sommes suivantes" in msg.body
    assert "intérêts de retard 10,81 €" in msg.body and "indemnité forfaitaire 40,00 €" in msg.body
    assert "Total réclamé : 1\u202f050,81 €" in msg.body


def _notice(entity: str, currency: str, country: str) -> list[InvoiceFacts]:
    return [InvoiceFacts(entity=entity, invoice_id="I9", invoice_number="SI-26-0201", customer_id="C1",
                         due_date=date(2025, 1, 31), currency=currency, amount_open=D("1000.00"),
                         amount_total=D("1000.00"), issue_date=date(2025, 1, 1), email="a@b.example", country=country,
                         customer_name="Client", steps_done=frozenset({"reminder", "firmer"}),
                         reminders_sent=(("firmer", date(2025, 2, 20)),))]


def test_a_formal_notice_where_no_penalty_rules_apply_claims_what_is_owed() -> None:
    """An entity whose settings name no penalty rules (UK01: French law's interest and EUR 40 are not its): the
    notice claims what is owed, without the French-law paragraph. The template needed them, and the entity's whole
    reminders run failed ('margin_points' is undefined), every customer's reminders with it."""
    as_of = date(2025, 3, 14)
    assert RULES.entity("UK01").penalties is None
    (msg,) = customer_messages(plan(_notice("UK01", "GBP", "GB"), as_of, RULES), as_of, RULES, lambda ids: {})
    assert msg.kind == "formal_notice"
    render_message(msg, as_of, RULES)
    assert "Total claimed: GBP 1,000.00" in msg.body and "L441-10" not in msg.body and "indemnity" not in msg.body


def test_a_formal_notice_in_another_currency_than_the_indemnity_totals_each_apart() -> None:
    """French law's EUR 40 on a GBP invoice: interest in GBP, the indemnity in EUR, each total in its currency (the
    notice had claimed GBP 53.98 of penalties for GBP 13.98 of interest and EUR 40.00)."""
    as_of = date(2025, 3, 2)  # 30 days late, interest 10.81 as on a EUR invoice (test_formal_notice_states_...)
    (msg,) = customer_messages(plan(_notice("FR01", "GBP", "GB"), as_of, RULES), as_of, RULES, lambda ids: {})
    render_message(msg, as_of, RULES)
    assert "late interest GBP 10.81, fixed indemnity EUR 40.00" in msg.body
    assert "Total penalties: GBP 10.81 + EUR 40.00" in msg.body
    assert "Total claimed: GBP 1,010.81 + EUR 40.00" in msg.body


def test_one_day_overdue_is_said_in_the_singular() -> None:
    as_of = date(2026, 11, 19)  # I1 fell due on 18/11
    (msg,) = customer_messages(plan(_facts("GB")[:1], as_of, RULES), as_of, RULES)
    render_message(msg, as_of, RULES)
    assert "(1 day overdue)" in msg.body


@pytest.mark.parametrize(("amount", "lang", "expected"), [
    (D("-5"), "fr", "-5,00 €"), (D("1000000.5"), "en", "EUR 1,000,000.50"), (D("0.005"), "fr", "0,00 €"),
], ids=["negative_fr", "millions_en", "half_even"])
def test_money_format(amount: D, lang: str, expected: str) -> None:
    assert money(amount, "EUR", lang) == expected


FIRMER_WORDING = [
    # (id, country, reminders sent per invoice, subject start, sentence that must be there, words that must not)
    ("fr_no_history", "FR", {}, "Relance :", "Sauf erreur de notre part, les factures suivantes sont échues",
     ["Malgré", "précédent"]),
    ("fr_one", "FR", {"I1": [("reminder", date(2026, 11, 18))]}, "Deuxième relance",
     "Malgré notre relance du 18/11/2026, les factures", ["Sauf erreur"]),
    ("fr_two", "FR", {"I1": [("courtesy", date(2026, 11, 15)), ("reminder", date(2026, 11, 18))]},
     "Deuxième relance", "Malgré nos relances des 15/11/2026 et 18/11/2026", ["Sauf erreur"]),
    ("en_no_history", "GB", {}, "Reminder:", "Unless we are mistaken, the following invoices are overdue",
     ["Despite", "previous"]),
    ("en_one", "GB", {"I1": [("reminder", date(2026, 11, 18))]}, "Second reminder",
     "Despite our reminder of 18 Nov 2026, the following", ["Unless"]),
    ("en_two_invoices", "GB", {"I1": [("reminder", date(2026, 11, 18))], "I2": [("courtesy", date(2026, 11, 22))]},
     "Second reminder", "Despite our reminders of 18 Nov 2026 and 22 Nov 2026", ["Unless"]),
]


@pytest.mark.parametrize(("country", "history", "subject", "sentence", "absent"), [c[1:] for c in FIRMER_WORDING],
                         ids=[c[0] for c in FIRMER_WORDING])
def test_firmer_wording_refers_only_to_reminders_actually_sent(
        country: str, history: dict, subject: str, sentence: str, absent: list[str]) -> None:
    from dataclasses import replace

    facts = [replace(f, reminders_sent=tuple(history.get(f.invoice_id, ()))) for f in _facts(country)]
    (msg,) = customer_messages(plan(facts, AS_OF, RULES), AS_OF, RULES)
    render_message(msg, AS_OF, RULES)
    assert msg.payload["template"] == "firmer"
    assert msg.subject.startswith(subject)
    assert sentence in msg.body
    assert not [w for w in absent if w in msg.body]


def test_formal_notice_step_without_a_sent_reminder_gets_no_despite_wording() -> None:
    """+36 days with a reminder recorded but never accepted (failed): the firmer fallback, and no "Malgré"."""
    facts = [InvoiceFacts(entity="FR01", invoice_id="I9", invoice_number="FA-9", customer_id="C1",
                          due_date=date(2026, 10, 20), currency="EUR", amount_open=D("800.00"),
                          amount_total=D("800.00"), email="a@b.fr", country="FR", customer_name="Client",
                          steps_done=frozenset({"reminder"}))]
    (msg,) = customer_messages(plan(facts, AS_OF, RULES), AS_OF, RULES)
    render_message(msg, AS_OF, RULES)
    assert msg.kind == "reminder" and msg.step == "firmer"
    assert "Malgré" not in msg.body and "précédent" not in msg.body


def test_a_long_french_subject_reaches_the_reader_with_its_spaces() -> None:
    """Folded at 78 characters, Python splits the subject's non-ASCII words into encoded-words on two lines and
    a mail reader drops the space between them ("à échéance— Garage Moreau SARL"): the wire policy does not fold."""
    import email
    import email.policy

    from actions.dunning.smtp import WIRE, build_email

    subject = "Relance : facture(s) arrivée(s) à échéance — Garage Moreau SARL"
    msg = build_email(message_id="m1", sender="relances@example.fr", recipients=["ap@example.fr"], subject=subject,
                      body="Bonjour")
    read = email.message_from_bytes(msg.as_bytes(policy=WIRE), policy=email.policy.default)
    assert read["Subject"] == subject


def test_an_invoice_under_formal_notice_is_not_listed_again_in_the_same_days_reminder() -> None:
    """I9 reaches its formal notice (a message of its own) the day I8 gets its first reminder: the reminder lists
    I8 alone; before, it listed I9 too, as courteously as if no formal notice were leaving with it."""
    common = dict(entity="FR01", customer_id="C1", currency="EUR", email="a@b.fr", country="FR", customer_name="Client")
    facts = [InvoiceFacts(invoice_id="I9", invoice_number="FA-2025-000009", due_date=date(2025, 1, 31),
                          amount_open=D("1000.00"), amount_total=D("1000.00"), issue_date=date(2025, 1, 1),
                          steps_done=frozenset({"reminder", "firmer"}),
                          reminders_sent=(("reminder", date(2025, 2, 5)), ("firmer", date(2025, 2, 15))), **common),
                 InvoiceFacts(invoice_id="I8", invoice_number="FA-2025-000008", due_date=date(2025, 2, 25),
                              amount_open=D("300.00"), amount_total=D("300.00"), issue_date=date(2025, 1, 26), **common)]
    as_of = date(2025, 3, 2)
    messages = {m.kind: m for m in customer_messages(plan(facts, as_of, RULES), as_of, RULES, lambda ids: {})}
    assert set(messages) == {"reminder", "formal_notice"}
    assert [ln.invoice_id for ln in messages["reminder"].lines] == ["I8"]
    assert [ln.invoice_id for ln in messages["formal_notice"].lines] == ["I9"]


def test_an_invoice_under_an_earlier_formal_notice_is_not_listed_in_a_later_reminder() -> None:
    """I9's formal notice left a week ago; today I8 gets its first reminder: the reminder lists I8 alone. Listed
    there too, I9 was asked for again in a courteous letter, as if no formal notice had been sent (an independent
    reminders book)."""
    common = dict(entity="FR01", customer_id="C1", currency="EUR", email="a@b.fr", country="FR", customer_name="Client")
    facts = [InvoiceFacts(invoice_id="I9", invoice_number="FA-2025-000009", due_date=date(2025, 1, 31),
                          amount_open=D("1000.00"), amount_total=D("1000.00"), issue_date=date(2025, 1, 1),
                          steps_done=frozenset({"reminder", "firmer", "formal_notice"}),
                          reminders_sent=(("reminder", date(2025, 2, 5)), ("firmer", date(2025, 2, 15)),
                                          ("formal_notice", date(2025, 3, 2))), **common),
                 InvoiceFacts(invoice_id="I8", invoice_number="FA-2025-000008", due_date=date(2025, 3, 9),
                              amount_open=D("300.00"), amount_total=D("300.00"), issue_date=date(2025, 2, 7), **common)]
    as_of = date(2025, 3, 9)
    (msg,) = customer_messages(plan(facts, as_of, RULES), as_of, RULES, lambda ids: {})
    assert msg.kind == "reminder"
    assert [ln.invoice_id for ln in msg.lines] == ["I8"]
    assert msg.amount_total == D("300.00")
