"""Advance and fee maths of one assignment, per invoice, in Decimal.

Why per invoice: the factor prices and reconciles line by line, so each amount
is rounded (to the currency's minor unit, the way the contract says: half-up by
default, commercial rounding) on its line and a batch total is the sum of its
rounded lines — the same figures the bordereau shows.

    advance       = amount × advance_rate
    reserve       = amount − advance              (released when the debtor pays the factor)
    commission    = amount × commission_rate
    financing_fee = advance × financing_rate × days ÷ day_count,
                    days = max(due_date − assigned_on, 0) + financing_extra_days
    net_advance   = advance − commission − financing_fee   (the cash the factor wires)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from lettrage.errors import InvalidAmount
from lettrage.money import quantize
from mappings.factoring import Pricing

ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class LinePrice:
    amount: Decimal
    advance: Decimal
    reserve: Decimal
    commission: Decimal
    financing_fee: Decimal
    financing_days: int

    @property
    def fees(self) -> Decimal:
        return self.commission + self.financing_fee

    @property
    def net_advance(self) -> Decimal:
        return self.advance - self.fees


def price_line(amount: Decimal, currency: str, due_date: date, assigned_on: date, pricing: Pricing) -> LinePrice:
    """Price one invoice handed over on ``assigned_on``."""
    if not isinstance(amount, Decimal):
        raise InvalidAmount(amount, "factoring amounts must be Decimal")
    if amount <= ZERO:
        raise InvalidAmount(amount, "only invoices with a positive open amount can be assigned")
    rounding = pricing.rounding
    advance = quantize(amount * pricing.advance_rate, currency, rounding)
    days = max((due_date - assigned_on).days, 0) + pricing.financing_extra_days
    financing = quantize(advance * pricing.financing_rate * Decimal(days) / Decimal(pricing.day_count), currency,
                         rounding)
    commission = quantize(amount * pricing.commission_rate, currency, rounding)
    return LinePrice(amount=amount, advance=advance, reserve=amount - advance, commission=commission,
                     financing_fee=financing, financing_days=days)


@dataclass(frozen=True, slots=True)
class BatchPrice:
    amount: Decimal
    advance: Decimal
    reserve: Decimal
    commission: Decimal
    financing_fee: Decimal

    @property
    def fees(self) -> Decimal:
        return self.commission + self.financing_fee

    @property
    def net_advance(self) -> Decimal:
        return self.advance - self.fees


def total(lines: Iterable[LinePrice]) -> BatchPrice:
    """Sum of rounded lines (never re-rounded: the bordereau's footer must equal its lines)."""
    items = list(lines)
    return BatchPrice(
        amount=sum((x.amount for x in items), ZERO), advance=sum((x.advance for x in items), ZERO),
        reserve=sum((x.reserve for x in items), ZERO), commission=sum((x.commission for x in items), ZERO),
        financing_fee=sum((x.financing_fee for x in items), ZERO),
    )
