"""Money without floats.

Every amount in Lettrage is a ``Decimal`` (or integer minor units on the wire)
with its ISO 4217 currency beside it. Floats never enter: parsing refuses them,
because ``0.1 + 0.2`` must equal ``0.3`` in a ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation

from lettrage.errors import InvalidAmount, UnknownCurrency

# ISO 4217 minor-unit exponents for currencies that differ from 2; everything
# else listed in KNOWN_CURRENCIES uses 2.
_EXPONENTS: dict[str, int] = {
    "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XOF": 0, "XAF": 0, "HUF": 2,
    "BHD": 3, "JOD": 3, "KWD": 3, "OMR": 3, "TND": 3,
}
KNOWN_CURRENCIES: frozenset[str] = frozenset(
    {
        "EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN",
        "CAD", "AUD", "NZD", "JPY", "CNY", "HKD", "SGD", "INR", "BRL", "MXN", "ZAR", "TRY",
        "MAD", "TND", "XOF", "XAF", "KRW", "ISK", "CLP", "VND", "BHD", "JOD", "KWD", "OMR", "AED",
    }
)
CENT = Decimal("0.01")


def currency_code(value: str | None) -> str:
    """Return the upper-case ISO 4217 code, or raise :class:`UnknownCurrency`."""
    code = (value or "").strip().upper()
    if code not in KNOWN_CURRENCIES:
        raise UnknownCurrency(value)
    return code


def currencies_with_exponent(digits: int) -> tuple[str, ...]:
    """The known currencies whose minor unit has ``digits`` decimals (0: JPY ..., 3: KWD ...), sorted: SQL that
    converts minor units (warehouse.sql ``minor_to_decimal``) reads them here, so both convert alike."""
    return tuple(sorted(c for c in KNOWN_CURRENCIES if _EXPONENTS.get(c, 2) == digits))


def exponent(currency: str) -> int:
    """Number of decimals of the currency's minor unit (2 for EUR, 0 for JPY)."""
    return _EXPONENTS.get(currency_code(currency), 2)


def from_minor(units: int, currency: str) -> Decimal:
    """Integer minor units (Stripe, GoCardless) to an exact Decimal."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise InvalidAmount(units, "expected integer minor units")
    return Decimal(units).scaleb(-exponent(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """Exact Decimal to integer minor units; refuses sub-unit fractions."""
    scaled = amount.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(amount, f"has more decimals than {currency} allows")
    return int(scaled)


def parse_decimal(text: str | int | Decimal, *, decimal_sep: str = ".", group_sep: str = "") -> Decimal:
    """Parse a decimal written with the given separators (``1.234,56`` etc.).

    Floats are refused on purpose: a float has already lost the exact value.
    """
    if isinstance(text, Decimal):
        return text
    if isinstance(text, bool) or isinstance(text, float):
        raise InvalidAmount(text, "floats are not accepted for money")
    if isinstance(text, int):
        return Decimal(text)
    raw = text.strip().replace("\u00a0", "").replace("\u202f", "")
    if group_sep:
        raw = raw.replace(group_sep, "")
    if decimal_sep != ".":
        raw = raw.replace(decimal_sep, ".")
    negative = False
    if raw.endswith("-"):  # SAP writes trailing minus signs
        negative, raw = True, raw[:-1]
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise InvalidAmount(text, "not a number") from exc
    if not value.is_finite():
        raise InvalidAmount(text, "not a finite number")
    return -value if negative else value


ROUNDINGS = {"half_even": ROUND_HALF_EVEN, "half_up": ROUND_HALF_UP}


def quantize(amount: Decimal, currency: str = "EUR", rounding: str = "half_even") -> Decimal:
    """Round to the currency's minor unit (used for computed amounts only): half-even by default; ``half_up``
    (commercial rounding, away from zero on a half) where a counterparty's contract computes so (a factor)."""
    return amount.quantize(Decimal(1).scaleb(-exponent(currency)), rounding=ROUNDINGS[rounding])


@dataclass(frozen=True, slots=True)
class Money:
    """An amount and its currency; arithmetic refuses to mix currencies."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise InvalidAmount(self.amount, "Money.amount must be a Decimal")
        object.__setattr__(self, "currency", currency_code(self.currency))

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidAmount(other, f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    @property
    def minor_units(self) -> int:
        return to_minor(self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount:,.{exponent(self.currency)}f} {self.currency}"
