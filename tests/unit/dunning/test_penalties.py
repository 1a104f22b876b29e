"""Late-payment penalties against hand-computed values (rates from mappings/dunning.yaml, fr_b2b)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from actions.dunning.penalties import late_interest, penalty, reference_rate
from mappings.dunning import load_dunning_rules

FR = load_dunning_rules().penalties["fr_b2b"]

CASES = [
    # 30 days (Feb 1..Mar 2 2025) at 3.15 + 10 = 13.15 %: 1000 * .1315 * 30 / 365 = 10.8082
    ("one_period", D(1000), date(2025, 1, 31), date(2025, 3, 2), [], D("10.81")),
    # leap year: Feb 29 and Mar 1 2024 at 14.50 %, /366: 100000 * .145 * 2 / 366 = 79.2350
    ("leap_year", D(100000), date(2024, 2, 28), date(2024, 3, 1), [], D("79.23")),
    # Dec 31 2024 at 14.25 % /366 (38.9344) + Jan 1-2 2025 at 13.15 % /365 (72.0548) = 110.9892
    ("year_boundary", D(100000), date(2024, 12, 30), date(2025, 1, 2), [], D("110.99")),
    # Jun 30 2025 at 13.15 % (36.0274) + Jul 1-2 at 12.15 % (66.5753) = 102.6027
    ("rate_change", D(100000), date(2025, 6, 29), date(2025, 7, 2), [], D("102.60")),
    # 10000 for Apr 1-30 (108.0822), 6000 after paying 4000 on Apr 30 for May 1-30 (64.8493) = 172.9315
    ("partial_payment", D(10000), date(2025, 3, 31), date(2025, 5, 30), [(date(2025, 4, 30), D(4000))], D("172.93")),
    ("not_late", D(10000), date(2025, 3, 31), date(2025, 3, 31), [], D("0.00")),
]


@pytest.mark.parametrize(("principal", "due", "as_of", "payments", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_late_interest(principal: D, due: date, as_of: date, payments: list, expected: D) -> None:
    interest, periods = late_interest(principal, due, as_of, FR, payments)
    assert interest == expected
    assert sum(p.days for p in periods) == max((as_of - due).days, 0)


def test_interest_and_indemnity_survive_payment_of_the_principal() -> None:
    payments = [(date(2025, 4, 30), D(4000)), (date(2025, 5, 30), D(6000))]
    later = penalty(D(10000), date(2025, 3, 31), date(2025, 9, 1), FR, payments, last_payment_on=date(2025, 5, 30))
    assert later.interest == D("172.93")  # nothing accrues after the last payment, nothing is dropped
    assert later.indemnity == D("40.00")
    assert later.total == D("212.93")


def test_actual_365_basis_differs_in_a_leap_year() -> None:
    fr365 = FR.model_copy(update={"day_count": "actual_365"})
    assert late_interest(D(100000), date(2024, 2, 28), date(2024, 3, 1), fr365)[0] == D("79.45")


def test_no_rate_before_the_first_point_is_an_error() -> None:
    with pytest.raises(ValueError, match="no reference rate"):
        reference_rate(FR, date(2020, 1, 1))
