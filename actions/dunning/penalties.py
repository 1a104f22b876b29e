"""Late-payment penalties of French law, computed in Decimal, per invoice.

Code de commerce L441-10: interest at the ECB main refinancing rate in force on
1 January (1 July) for the half-year that follows, plus ``margin_points``, pro
rata temporis, from the day after the due date; plus a fixed recovery indemnity
(EUR 40, D441-5) per invoice paid late, B2B only.

Why periods: a partial payment lowers the principal only from the day after it
is paid, the rate changes each half-year and a leap year divides by 366, so the
interest is the sum over periods of constant (principal, rate, year). What was
accrued before a payment stays owed: paying the principal never erases it.
Rounding happens once, on the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from lettrage.money import quantize
from mappings.dunning import PenaltyRules

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Period:
    """Days ``start``..``end`` (inclusive) at one principal, rate and year basis."""

    start: date
    end: date
    principal: Decimal
    annual_rate: Decimal  # percent, margin included
    basis: int            # 365 or 366
    interest: Decimal     # unrounded

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True, slots=True)
class Penalty:
    interest: Decimal     # rounded to the currency's minor unit
    indemnity: Decimal    # in PenaltyRules.indemnity_currency
    days_late: int
    periods: tuple[Period, ...]

    @property
    def total(self) -> Decimal:
        return self.interest + self.indemnity


def reference_rate(rules: PenaltyRules, day: date) -> Decimal:
    """The reference rate in force on ``day`` (the last point dated on or before it)."""
    rate: Decimal | None = None
    for point in rules.reference_rates:
        if point.from_ <= day:
            rate = point.rate
        else:
            break
    if rate is None:
        first = rules.reference_rates[0].from_
        raise ValueError(f"no reference rate before {first} for {day}: add older rates to mappings/dunning.yaml")
    return rate


def _basis(rules: PenaltyRules, year: int) -> int:
    if rules.day_count == "actual_365":
        return 365
    return 366 if date(year, 12, 31).timetuple().tm_yday == 366 else 365


def late_interest(
    principal: Decimal, due_date: date, as_of: date, rules: PenaltyRules,
    payments: Sequence[tuple[date, Decimal]] = (), currency: str = "EUR",
) -> tuple[Decimal, tuple[Period, ...]]:
    """Interest on ``principal`` from the day after ``due_date`` to ``as_of`` (inclusive).

    ``payments`` are (paid_on, amount) reductions of the principal; a payment
    on day *p* still bears interest for day *p* and lowers the principal from *p + 1*.
    ``principal`` is the amount due at the due date (before those payments).
    """
    if as_of <= due_date:
        return Decimal("0.00"), ()
    # a boundary b ends a period on day b; the next starts on b + 1
    bounds = {as_of}
    for paid_on, _ in payments:
        if due_date < paid_on < as_of:
            bounds.add(paid_on)
    for point in rules.reference_rates:
        if due_date < point.from_ <= as_of:
            bounds.add(point.from_ - timedelta(days=1))
    for year in range(due_date.year + 1, as_of.year + 1):
        bounds.add(date(year - 1, 12, 31))
    periods: list[Period] = []
    start = due_date + timedelta(days=1)
    total = Decimal(0)
    for end in sorted(b for b in bounds if b >= start):
        outstanding = principal - sum((a for p, a in payments if p < start), Decimal(0))
        if outstanding > 0:
            rate = reference_rate(rules, start) + rules.margin_points
            basis = _basis(rules, start.year)
            days = (end - start).days + 1
            interest = outstanding * rate / HUNDRED * days / basis
            total += interest
            periods.append(Period(start, end, outstanding, rate, basis, interest))
        start = end + timedelta(days=1)
    return quantize(total, currency), tuple(periods)


def penalty(
    principal: Decimal, due_date: date, as_of: date, rules: PenaltyRules,
    payments: Sequence[tuple[date, Decimal]] = (), currency: str = "EUR",
    last_payment_on: date | None = None,
) -> Penalty:
    """Interest plus the fixed indemnity for one invoice paid (or still unpaid) late.

    ``last_payment_on`` closes the accrual when the principal is fully paid; the
    indemnity is due once the invoice was late at all.
    """
    end = min(as_of, last_payment_on) if last_payment_on else as_of
    interest, periods = late_interest(principal, due_date, end, rules, payments, currency)
    days_late = max((end - due_date).days, 0)
    indemnity = rules.fixed_indemnity if days_late > 0 else Decimal("0.00")
    return Penalty(interest, indemnity, days_late, periods)
