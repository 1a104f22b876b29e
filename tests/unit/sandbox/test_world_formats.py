"""Notations, fees, lettering codes and remittance styles of the sample world."""

from __future__ import annotations

import random
from itertools import islice

import pytest

from sandbox.world import remittance
from sandbox.world.documents import split_total, vat_of
from sandbox.world.erp import letters
from sandbox.world.gocardless_world import cents_str, gocardless_fee
from sandbox.world.stripe_world import stripe_fee
from sandbox.world.writers.formats import cents_german, cents_plain


@pytest.mark.parametrize(
    "cents, plain, comma, german",
    [(0, "0.00", "0,00", "0,00"), (5, "0.05", "0,05", "0,05"), (123456, "1234.56", "1234,56", "1.234,56"),
     (-123456, "-1234.56", "-1234,56", "1.234,56"), (100000000, "1000000.00", "1000000,00", "1.000.000,00")],
    ids=["zero", "cents", "thousands", "negative", "million"],
)
def test_amount_notations(cents: int, plain: str, comma: str, german: str) -> None:
    assert cents_plain(cents) == plain
    assert cents_plain(cents, ",") == comma
    assert cents_german(cents) == german


@pytest.mark.parametrize("amount, fee", [(10_000, 175), (100, 27), (33_333, 525)], ids=["100eur", "1eur", "odd"])
def test_stripe_fee_is_1_5_percent_plus_25_cents(amount: int, fee: int) -> None:
    assert stripe_fee(amount) == fee


@pytest.mark.parametrize("amount, fee", [(10_000, 120), (100_000, 400), (1_000, 30)], ids=["100eur", "cap", "10eur"])
def test_gocardless_fee_is_1_percent_plus_20_cents_capped(amount: int, fee: int) -> None:
    assert gocardless_fee(amount) == fee


@pytest.mark.parametrize("cents, text", [(-143, "-1.43"), (12000, "120.00"), (5, "0.05")], ids=["fee", "eur", "cent"])
def test_payout_item_amounts_are_decimal_strings(cents: int, text: str) -> None:
    assert cents_str(cents) == text


def test_vat_and_split_are_exact_in_cents() -> None:
    assert vat_of(10_001, 20) == 2000
    assert vat_of(10_003, 19) == 1901
    net, vat = split_total(12_000, 20)
    assert (net, vat) == (10_000, 2_000)


def test_letter_codes_run_aa_to_zz_then_three_letters() -> None:
    codes = list(islice(letters(), 26 * 26 + 2))
    assert codes[:3] == ["AA", "AB", "AC"]
    assert codes[26 * 26 - 1] == "ZZ"
    assert codes[26 * 26:] == ["AAA", "AAB"]


@pytest.mark.parametrize("number", ["FA-2025-000123", "RE-2024-00987"], ids=["fr", "de"])
def test_typo_changes_exactly_the_sequence_part(number: str) -> None:
    rng = random.Random(5)
    for _ in range(50):
        typo = remittance.typo(number, rng)
        assert typo != number and typo[:-len(number.split('-')[2])] == number[:-len(number.split('-')[2])]
        assert len(typo) == len(number)


@pytest.mark.parametrize("country", ["FR", "DE"], ids=["fr", "de"])
def test_variants_keep_the_digits_recognisable(country: str) -> None:
    rng = random.Random(9)
    number = "FA-2025-000123" if country == "FR" else "RE-2025-00123"
    for _ in range(40):
        text = remittance.variant(number, country, rng)
        assert text != number and "123" in text


def test_missing_reference_never_contains_the_number() -> None:
    rng = random.Random(4)
    assert all("FA-" not in remittance.missing("Garage Moreau SAS", "FR", rng) for _ in range(30))
