"""The contract's rules as a table of cases, and the concentration limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from actions.factoring.eligibility import Candidate, apply_concentration, decide, exclusion_reason
from mappings.factoring import FactorContract, load_factoring

AS_OF = date(2026, 11, 25)
CONTRACT = load_factoring().contract("FDEMO-2026-001")

BASE = Candidate(
    entity="FR01", invoice_id="I1", invoice_number="F-1", customer_id="C1", customer_name="Risky SARL",
    vat_id="FR1", siren="123", country="FR", payment_terms_days=30, segment="at_risk", score=Decimal("20"),
    issue_date=date(2026, 11, 1), due_date=date(2026, 12, 1), currency="EUR", amount_total=Decimal("1000.00"),
    amount_open=Decimal("1000.00"),
)


def _with_eligibility(**changes: object) -> FactorContract:
    return CONTRACT.model_copy(update={"eligibility": CONTRACT.eligibility.model_copy(update=changes)})


CASES = [
    ("eligible at-risk", {}, CONTRACT, None),
    ("eligible long terms", {"segment": "punctual", "payment_terms_days": 60}, CONTRACT, None),
    ("not targeted", {"segment": "punctual", "payment_terms_days": 30}, CONTRACT, "not_targeted"),
    ("no segment, short terms", {"segment": None, "payment_terms_days": 45}, CONTRACT, "not_targeted"),
    ("closed", {"amount_open": Decimal("0")}, CONTRACT, "not_open"),
    ("other currency", {"currency": "USD"}, CONTRACT, "currency"),
    ("other entity", {"entity": "US01"}, CONTRACT, "entity"),
    ("intra-group by name", {"customer_name": "Lettrage Demo GmbH"}, CONTRACT, "intra_group"),
    ("intra-group by id", {}, _with_eligibility(intra_group=CONTRACT.eligibility.intra_group.model_copy(
        update={"customer_ids": ("C1",)})), "intra_group"),
    ("excluded customer", {}, _with_eligibility(exclude_customers=("C1",)), "customer_excluded"),
    ("not on the include list", {}, _with_eligibility(include_customers=("C9",)), "customer_not_listed"),
    ("country outside contract", {"country": "US"}, CONTRACT, "country"),
    ("segment refused by factor", {}, _with_eligibility(segments=("punctual",)), "segment"),
    ("score too low", {"score": Decimal("4")}, _with_eligibility(min_score=Decimal("5")), "score"),
    ("unscored refused", {"score": None}, _with_eligibility(allow_unscored=False), "unscored"),
    ("unscored allowed", {"score": None}, CONTRACT, None),
    ("already assigned", {"already_assigned": True}, CONTRACT, "already_assigned"),
    ("disputed", {"disputed": True}, CONTRACT, "disputed"),
    ("money on its way", {"in_transit": "bank line B9 received 2026-11-24, not yet applied"}, CONTRACT,
     "money_in_transit"),
    ("money on its way, factor takes it", {"in_transit": "GoCardless payment PM1 submitted"},
     _with_eligibility(exclusions=CONTRACT.eligibility.exclusions.model_copy(update={"money_in_transit": False})),
     None),
    ("credit-noted", {"credit_noted": True}, CONTRACT, "credit_noted"),
    ("partially paid flag", {"partially_paid": True}, CONTRACT, "partially_paid"),
    ("partially paid amount", {"amount_open": Decimal("400.00")}, CONTRACT, "partially_paid"),
    ("partially paid allowed", {"amount_open": Decimal("400.00")},
     _with_eligibility(exclusions=CONTRACT.eligibility.exclusions.model_copy(update={"partially_paid": False})), None),
    ("too old", {"issue_date": date(2026, 7, 1), "due_date": date(2026, 12, 30)}, CONTRACT, "too_old"),
    ("age limit is inclusive", {"issue_date": date(2026, 7, 28), "due_date": date(2026, 12, 30)}, CONTRACT, None),
    ("overdue too long", {"due_date": date(2026, 10, 20)}, CONTRACT, "overdue_too_long"),
    ("overdue within limit", {"due_date": date(2026, 10, 26)}, CONTRACT, None),
    ("below minimum", {"amount_total": Decimal("99.99"), "amount_open": Decimal("99.99")}, CONTRACT,
     "amount_below_min"),
    ("above maximum", {"amount_total": Decimal("250000.01"), "amount_open": Decimal("250000.01")}, CONTRACT,
     "amount_above_max"),
]


@pytest.mark.parametrize(("changes", "contract", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exclusion_reason(changes: dict[str, object], contract: FactorContract, expected: str | None) -> None:
    assert exclusion_reason(replace(BASE, **changes), contract, AS_OF) == expected


def _inv(iid: str, customer: str, amount: str, due: str = "2026-12-01") -> Candidate:
    return replace(BASE, invoice_id=iid, invoice_number=iid, customer_id=customer, amount_total=Decimal(amount),
                   amount_open=Decimal(amount), due_date=date.fromisoformat(due))


CONCENTRATION = [
    # (name, invoices, outstanding, limit, floor, kept ids)
    ("all within", [_inv("a", "A", "300"), _inv("b", "B", "300"), _inv("c", "C", "400")], {}, "0.5", "0",
     ["a", "b", "c"]),
    ("one debtor too heavy: latest due dropped first",
     [_inv("a1", "A", "500", "2026-12-01"), _inv("a2", "A", "500", "2026-12-20"), _inv("b", "B", "300"),
      _inv("c", "C", "300")], {}, "0.5", "0", ["a1", "b", "c"]),
    ("outstanding counts", [_inv("a", "A", "100"), _inv("b", "B", "100")], {"A": Decimal("400")}, "0.6", "0",
     ["b"]),
    ("single debtor under the floor", [_inv("a", "A", "900")], {}, "0.35", "1000", ["a"]),
    ("single debtor, no floor", [_inv("a", "A", "900")], {}, "0.35", "0", []),
    ("outstanding of others dilutes", [_inv("a", "A", "300")], {"Z": Decimal("700")}, "0.35", "0", ["a"]),
]


@pytest.mark.parametrize(("invoices", "outstanding", "limit", "floor", "kept"), [c[1:] for c in CONCENTRATION],
                         ids=[c[0] for c in CONCENTRATION])
def test_concentration(invoices: list[Candidate], outstanding: dict[str, Decimal], limit: str, floor: str,
                       kept: list[str]) -> None:
    got, dropped = apply_concentration(invoices, outstanding, Decimal(limit), Decimal(floor))
    assert [c.invoice_id for c in got] == kept
    assert {c.invoice_id for c in dropped} == {c.invoice_id for c in invoices} - set(kept)
    assert all(c.reason == "concentration" for c in dropped)
    # the invariant itself: every debtor of the batch fits
    exposure: dict[str, Decimal] = dict(outstanding)
    for c in got:
        exposure[c.customer_id] = exposure.get(c.customer_id, Decimal(0)) + c.amount_open
    book = sum(exposure.values(), Decimal(0))
    assert all(exposure[c.customer_id] <= max(Decimal(limit) * book, Decimal(floor)) for c in got)


def test_decide_orders_batch_and_explains_refusals() -> None:
    cands = [_inv("late", "A", "100", "2026-12-20"), _inv("early", "B", "100", "2026-12-02"),
             replace(_inv("d", "C", "100"), disputed=True)]
    selected, refused = decide(cands, CONTRACT, AS_OF, {})
    assert [c.invoice_id for c in selected] == ["early", "late"]
    assert [(c.invoice_id, c.reason) for c in refused] == [("d", "disputed")]


def test_a_proposal_printed_short_says_how_many_lines_it_leaves_out() -> None:
    from actions.factoring.demo import format_proposals

    line = {"invoice_number": "F-1", "customer_id": "C1", "segment": "at_risk", "payment_terms_days": 30,
            "amount": "100.00", "advance_amount": "85.00"}
    proposal = {"entity": "FR01", "factor": "Factor", "contract_id": "K", "batch_id": "B", "invoices": 12,
                "customers": 1, "amount": "1200.00", "currency": "EUR", "advance_amount": "1020.00",
                "commission": "9.00", "financing_fee": "5.00", "net_advance": "1006.00", "refused": {},
                "lines": [dict(line, invoice_number=f"F-{n}") for n in range(12)]}
    short = format_proposals([proposal])
    assert "F-9 " in short and "F-10" not in short and "… and 2 more (--all lists every invoice)" in short
    assert "F-11" in format_proposals([proposal], max_lines=None) and "more" not in format_proposals(
        [proposal], max_lines=None)
