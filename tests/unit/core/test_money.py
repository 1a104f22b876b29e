"""Money stays exact: Decimal or minor units, never floats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lettrage.errors import InvalidAmount, UnknownCurrency
from lettrage.money import Money, from_minor, parse_decimal, quantize, to_minor


def test_point_one_plus_point_two_is_exactly_point_three() -> None:
    total = parse_decimal("0.1") + parse_decimal("0.2")
    assert total == Decimal("0.3")
    assert (Money(Decimal("0.1"), "EUR") + Money(Decimal("0.2"), "EUR")).amount == Decimal("0.3")


def test_large_amounts_sum_exactly() -> None:
    amounts = [parse_decimal("1234567.89")] * 1000 + [parse_decimal("0.01")] * 7
    assert sum(amounts, Decimal(0)) == Decimal("1234567890.07")
    assert to_minor(Decimal("1234567.89"), "EUR") == 123456789


@pytest.mark.parametrize(
    ("text", "decimal_sep", "group_sep", "expected"),
    [
        ("1.234,56", ",", ".", "1234.56"),
        ("1,234.56", ".", ",", "1234.56"),
        ("1 234,56", ",", " ", "1234.56"),
        ("1\u00a0234,56", ",", " ", "1234.56"),
        ("1234.56-", ".", "", "-1234.56"),
        ("0,10", ",", "", "0.10"),
    ],
    ids=["german", "english", "french-space", "nbsp", "sap-trailing-minus", "decimal-comma"],
)
def test_parse_decimal_with_locale_separators(text: str, decimal_sep: str, group_sep: str, expected: str) -> None:
    assert parse_decimal(text, decimal_sep=decimal_sep, group_sep=group_sep) == Decimal(expected)


@pytest.mark.parametrize("bad", [0.1, "abc", "NaN", "Infinity", True], ids=["float", "text", "nan", "inf", "bool"])
def test_parse_decimal_refuses_floats_and_garbage(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_decimal(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("units", "currency", "expected"),
    [(1234, "EUR", "12.34"), (1234, "JPY", "1234"), (1234, "KWD", "1.234"), (-5, "usd", "-0.05")],
    ids=["eur", "jpy", "kwd", "negative-lower-case"],
)
def test_minor_units_roundtrip(units: int, currency: str, expected: str) -> None:
    assert from_minor(units, currency) == Decimal(expected)
    assert to_minor(Decimal(expected), currency) == units


def test_to_minor_refuses_sub_unit_fractions() -> None:
    with pytest.raises(InvalidAmount, match="more decimals"):
        to_minor(Decimal("1.001"), "EUR")


def test_money_refuses_mixed_currencies_and_unknown_codes() -> None:
    with pytest.raises(InvalidAmount, match="EUR with USD"):
        Money(Decimal("1"), "EUR") + Money(Decimal("1"), "USD")
    with pytest.raises(UnknownCurrency):
        Money(Decimal("1"), "XXX")
    with pytest.raises(InvalidAmount):
        Money(1.5, "EUR")  # type: ignore[arg-type]


def test_quantize_rounds_half_even_to_the_minor_unit() -> None:
    assert quantize(Decimal("2.345")) == Decimal("2.34")
    assert quantize(Decimal("2.355")) == Decimal("2.36")
