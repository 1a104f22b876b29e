"""Advance and fee maths, worked by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from actions.factoring.pricing import price_line, total
from lettrage.errors import InvalidAmount
from mappings.factoring import Pricing

P = Pricing(advance_rate=Decimal("0.85"), commission_rate=Decimal("0.0075"), financing_rate=Decimal("0.048"),
            day_count=360, financing_extra_days=10)

CASES = [
    # name, amount, due, assigned_on, advance, commission, financing, days
    # 1000 × 0.85 = 850; 850 × 0.048 × (6 + 10) / 360 = 1.8133 → 1.81; 1000 × 0.0075 = 7.50
    ("due in 6 days", "1000.00", date(2026, 12, 1), date(2026, 11, 25), "850.00", "7.50", "1.81", 16),
    # overdue: no negative days, only the extra days: 850 × 0.048 × 10 / 360 = 1.1333 → 1.13
    ("overdue", "1000.00", date(2026, 11, 1), date(2026, 11, 25), "850.00", "7.50", "1.13", 10),
    # 333.33 × 0.85 = 283.3305 → 283.33; 333.33 × 0.0075 = 2.4999… → 2.50; 283.33 × 0.048 × 70 / 360 = 2.6444 → 2.64
    ("rounding half-even per line", "333.33", date(2027, 1, 24), date(2026, 11, 25), "283.33", "2.50", "2.64", 70),
]


@pytest.mark.parametrize(("amount", "due", "on", "advance", "commission", "financing", "days"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_price_line(amount: str, due: date, on: date, advance: str, commission: str, financing: str,
                    days: int) -> None:
    line = price_line(Decimal(amount), "EUR", due, on, P)
    assert (line.advance, line.commission, line.financing_fee, line.financing_days) == (
        Decimal(advance), Decimal(commission), Decimal(financing), days)
    assert line.reserve == Decimal(amount) - Decimal(advance)
    assert line.net_advance == Decimal(advance) - Decimal(commission) - Decimal(financing)


def test_batch_total_is_sum_of_rounded_lines() -> None:
    lines = [price_line(Decimal("0.05"), "EUR", date(2026, 12, 1), date(2026, 11, 25), P) for _ in range(3)]
    # 0.05 × 0.85 = 0.0425 → 0.04 per line; the batch shows 0.12, not round(0.1275) = 0.13
    assert total(lines).advance == Decimal("0.12")
    assert total(lines).amount == Decimal("0.15")


def test_zero_decimal_currency() -> None:
    line = price_line(Decimal("10001"), "JPY", date(2026, 12, 1), date(2026, 11, 25), P)
    assert line.advance == Decimal("8501")  # 8500.85 → 8501 (no minor unit)


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-5.00")], ids=["zero", "negative"])
def test_refuses_non_positive(amount: Decimal) -> None:
    with pytest.raises(InvalidAmount):
        price_line(amount, "EUR", date(2026, 12, 1), date(2026, 11, 25), P)


@pytest.mark.parametrize(("rounding", "advance"), [("half_up", "3041.39"), ("half_even", "3041.38")])
def test_a_half_cent_rounds_as_the_contract_says(rounding: str, advance: str) -> None:
    """3,578.10 × 0.85 = 3,041.385: French factors round a half cent up (the default); half-even on request."""
    pricing = P.model_copy(update={"rounding": rounding})
    line = price_line(Decimal("3578.10"), "EUR", date(2026, 12, 1), date(2026, 11, 25), pricing)
    assert line.advance == Decimal(advance)
    assert line.reserve == Decimal("3578.10") - Decimal(advance)
