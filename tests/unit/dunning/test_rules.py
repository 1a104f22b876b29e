"""Who gets nothing, and which step the others get: the selection rules as a table of cases."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from actions.dunning.model import InvoiceFacts
from actions.dunning.rules import customer_probability_late, plan, plan_invoice, step_due
from mappings.dunning import load_dunning_rules

AS_OF = date(2026, 11, 25)
RULES = load_dunning_rules()
STANDARD = RULES.scenarios["standard"]
BASE = InvoiceFacts(entity="FR01", invoice_id="I1", invoice_number="FA-1", customer_id="C1",
                    due_date=date(2026, 11, 18), currency="EUR", amount_open=Decimal("1200.00"),
                    amount_total=Decimal("1200.00"), status="overdue", email="ap@c1.fr", country="FR")

CASES = [
    ("overdue_7_days_firmer", {}, "email", "firmer", "7 days past due"),
    ("paid", {"status": "paid", "amount_open": Decimal("0")}, "skip", None, "paid"),
    ("credited", {"status": "credited", "amount_open": Decimal("0")}, "skip", None, "credited"),
    ("disputed_flag", {"disputed": True}, "skip", None, "disputed"),
    ("disputed_status", {"status": "disputed"}, "skip", None, "disputed"),
    ("disputed_decision", {"dispute_decision": True}, "skip", None, "disputed (decision)"),
    ("write_off_requested", {"write_off_requested": True}, "skip", None, "write-off requested (pending)"),
    ("factored_flag", {"factored": True}, "skip", None, "assigned to a factor"),
    ("factored_status", {"status": "factored"}, "skip", None, "assigned to a factor"),
    ("promise_holds", {"promise_until": date(2026, 11, 30)}, "skip", None, "promise to pay until 2026-11-30"),
    ("promise_broken", {"promise_until": date(2026, 11, 20)}, "email", "firmer", "7 days past due"),
    ("matched_since_sync", {"matched_since_sync": True}, "skip", None, "matched since the last sync"),
    ("money_in_transit", {"in_transit": "GoCardless payment PM1 submitted"}, "skip", None,
     "money on its way: GoCardless payment PM1 submitted"),
    ("mandate_due_collect", {"mandate_id": "MD1"}, "collect", "direct_debit", "GoCardless payment instead"),
    ("mandate_not_due", {"mandate_id": "MD1", "due_date": date(2026, 11, 27)}, "skip", None, "collected on the due date"),
    ("mandate_already_collected", {"mandate_id": "MD1", "steps_done": frozenset({"direct_debit"})}, "skip",
     "direct_debit", "already requested"),
    ("courtesy_before_due", {"due_date": date(2026, 11, 27), "status": "open"}, "email", "courtesy", "due in 2 days"),
    ("not_in_window", {"due_date": date(2026, 12, 20), "status": "open"}, "skip", None, "not in the window yet"),
    ("due_today_reminder", {"due_date": AS_OF}, "email", "reminder", "0 days past due"),
    ("step_already_sent", {"steps_done": frozenset({"firmer"})}, "skip", "firmer", "firmer already sent"),
    ("phone_task", {"due_date": date(2026, 11, 13)}, "task", "phone_call", "12 days past due"),
    ("formal_needs_prior", {"due_date": date(2026, 10, 20)}, "email", "firmer", "needs an earlier reminder first"),
    ("formal_after_prior", {"due_date": date(2026, 10, 20), "steps_done": frozenset({"reminder"}),
                            "reminders_sent": (("reminder", date(2026, 10, 20)),)}, "email",
     "formal_notice", "formal_notice at +30"),
    ("formal_prior_recorded_not_sent", {"due_date": date(2026, 10, 20), "steps_done": frozenset({"reminder"})},
     "email", "firmer", "needs an earlier reminder first"),
    ("agency_review_task", {"due_date": date(2026, 10, 1), "steps_done": frozenset({"reminder", "formal_notice"}),
                            "reminders_sent": (("reminder", date(2026, 10, 1)), ("formal_notice", date(2026, 11, 2)))},
     "task", "agency_review", "agency_review at +45"),
    # a second run the same day, after the firmer reminder went: no formal notice minutes later
    ("formal_waits_after_the_last_reminder", {"due_date": date(2026, 10, 20), "steps_done": frozenset({"firmer"}),
                                              "reminders_sent": (("firmer", AS_OF),)},
     "skip", None, "formal_notice waits 8 days after the last reminder, sent 0 day(s) ago"),
    ("formal_after_the_wait", {"due_date": date(2026, 10, 20), "steps_done": frozenset({"firmer"}),
                               "reminders_sent": (("firmer", date(2026, 11, 17)),)}, "email", "formal_notice",
     "formal_notice at +30"),
    # escalation does not skip the formal notice
    ("agency_review_needs_the_formal_notice", {"due_date": date(2026, 10, 1), "steps_done": frozenset({"firmer"}),
                                               "reminders_sent": (("firmer", date(2026, 11, 2)),)},
     "email", "formal_notice", "agency_review needs formal_notice sent first"),
    ("direct_debit_payer", {"direct_debit_on": date(2026, 11, 5)}, "skip", None,
     "pays by direct debit (last collected 2026-11-05)"),
    ("direct_debit_terms", {"direct_debit_terms": "Prélèvement SEPA 30 jours"}, "skip", None,
     "pays by direct debit (terms 'Prélèvement SEPA 30 jours')"),
]


@pytest.mark.parametrize(("changes", "action", "step", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan_invoice(changes: dict, action: str, step: str | None, reason: str) -> None:
    planned = plan_invoice(replace(BASE, **changes), AS_OF, "standard", STANDARD,
                           min_gap_days=RULES.thresholds.min_days_before_formal_step)
    assert (planned.action, planned.step) == (action, step)
    assert reason in planned.reason


def test_customer_under_threshold_gets_nothing_but_the_total_counts_every_eligible_invoice() -> None:
    small = [replace(BASE, invoice_id="S1", amount_open=Decimal("4.00")),
             replace(BASE, invoice_id="S2", amount_open=Decimal("5.99"))]
    assert {p.action for p in plan(small, AS_OF, RULES)} == {"skip"}
    assert all("under threshold" in p.reason for p in plan(small, AS_OF, RULES))
    enough = small + [replace(BASE, invoice_id="S3", amount_open=Decimal("0.02"))]
    assert {p.action for p in plan(enough, AS_OF, RULES)} == {"email"}


def test_scenario_follows_segment_and_amount() -> None:
    assert RULES.scenario_for("FR01", None, Decimal("100"))[0] == "standard"
    assert RULES.scenario_for("FR01", "punctual", Decimal("100"))[0] == "gentle"
    assert RULES.scenario_for("FR01", "at_risk", Decimal("100"))[0] == "firm"
    assert RULES.scenario_for("FR01", "punctual", Decimal("60000"))[0] == "firm"


@pytest.mark.parametrize(("dpd", "expected"), [(-4, None), (-3, "courtesy"), (4, "reminder"), (5, "firmer")],
                         ids=["before_window", "courtesy_edge", "reminder_last_day", "firmer_edge"])
def test_step_boundaries(dpd: int, expected: str | None) -> None:
    step, _ = step_due(STANDARD, dpd, frozenset())
    assert (step.name if step else None) == expected


def test_predicted_lateness_chooses_the_firm_scenario_and_the_reason_says_why() -> None:
    assert RULES.scenario_for("FR01", "punctual", Decimal("100"), Decimal("0.82"))[0] == "firm"
    assert RULES.scenario_for("FR01", "punctual", Decimal("100"), Decimal("0.69"))[0] == "gentle"
    assert RULES.scenario_for("FR01", None, Decimal("100"), None)[0] == "standard"
    late = replace(BASE, probability_late=Decimal("0.82"), late_factors="prior_avg_delay +1.20; reminders +0.40")
    [planned] = plan([late], AS_OF, RULES)
    # firm scenario: firmer at +7 (standard would also say firmer, but at +5)
    assert (planned.scenario, planned.step) == ("firm", "firmer")
    assert planned.reason == ("7 days past due; firm scenario (predicted late (p=0.82 >= 0.7): "
                              "prior_avg_delay +1.20; reminders +0.40): firmer at +7")


def test_customer_probability_is_amount_weighted_over_eligible_invoices() -> None:
    group = [
        replace(BASE, invoice_id="A", amount_open=Decimal("300.00"), probability_late=Decimal("0.9"),
                late_factors="delay_trend +0.90"),
        replace(BASE, invoice_id="B", amount_open=Decimal("100.00"), probability_late=Decimal("0.1")),
        replace(BASE, invoice_id="C", amount_open=Decimal("5000.00")),                        # no prediction
        replace(BASE, invoice_id="D", amount_open=Decimal("9000.00"), probability_late=Decimal("0.0"),
                disputed=True),                                                                # excluded
    ]
    assert customer_probability_late(group, AS_OF) == Decimal("0.7")  # (300*0.9 + 100*0.1) / 400
    planned = {p.facts.invoice_id: p for p in plan(group, AS_OF, RULES)}
    assert {p.scenario for p in planned.values() if p.sends} == {"firm"}
    # B has no factors of its own: the reason shows those of the customer's largest predicted invoice
    assert "p=0.70 >= 0.7): delay_trend +0.90 (invoice FA-1)" in planned["B"].reason
    assert planned["D"].reason == "disputed"                                  # exclusions untouched
    with_mandate = [replace(g, mandate_id="MD1") for g in group[:2]]
    assert {p.action for p in plan(with_mandate, AS_OF, RULES)} == {"collect"}
    assert customer_probability_late(group[2:], AS_OF) is None


@pytest.mark.parametrize(
    ("selection", "message"),
    [([{"scenario": "firm", "min_probability_late": "0.7"}], "last selection rule must match every customer"),
     ([{"scenario": "firm", "min_probability_late": "1.5"}, {"scenario": "standard"}], "less than or equal to 1"),
     ([{"scenario": "firm", "min_probability_late": "0"}, {"scenario": "standard"}], "greater than 0")],
    ids=["last-rule-conditional", "above-one", "zero"],
)
def test_probability_rules_are_validated(selection: list[dict[str, str]], message: str) -> None:
    data = RULES.model_dump(by_alias=True)
    data["selection"] = selection
    with pytest.raises(ValueError, match=message):
        type(RULES).model_validate(data)



@pytest.mark.parametrize(("terms", "direct"), [("Prélèvement SEPA 30 jours", True), ("PRELEVEMENT A 45J", True),
                                               ("SEPA Lastschrift 14 Tage", True), ("Virement 30 jours fin de mois", False),
                                               ("LCR 45J FDM", False), (None, False)])
def test_terms_that_name_a_direct_debit(terms: str | None, direct: bool) -> None:
    assert RULES.thresholds.names_direct_debit(terms) is direct
