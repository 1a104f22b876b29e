"""Check digits of the identifiers the sample world invents (IBAN, SIREN, VAT, RF)."""

from __future__ import annotations

import random

import pytest

from sandbox.world import ids


@pytest.mark.parametrize(
    "value, valid",
    [
        ("DE89370400440532013000", True),
        ("FR1420041010050500013M02606", True),
        ("GB82WEST12345698765432", True),
        ("DE89370400440532013001", False),
        ("FR1420041010050500013M02607", False),
    ],
    ids=["de-example", "fr-example", "gb-example", "de-wrong-digit", "fr-wrong-digit"],
)
def test_iban_validation_on_published_examples(value: str, valid: bool) -> None:
    assert ids.iban_is_valid(value) is valid


@pytest.mark.parametrize("make, country, length", [(ids.fr_iban, "FR", 27), (ids.de_iban, "DE", 22),
                                                   (ids.ie_iban, "IE", 22)], ids=["fr", "de", "ie"])
def test_generated_ibans_have_valid_check_digits(make, country: str, length: int) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    for _ in range(200):
        value = make(rng)
        assert value.startswith(country) and len(value) == length
        assert ids.iban_is_valid(value), value


def test_french_iban_carries_a_valid_rib_key() -> None:
    value = ids.fr_iban(random.Random(3))
    bank, branch, account, key = value[4:9], value[9:14], value[14:25], value[25:27]
    assert (89 * int(bank) + 15 * int(branch) + 3 * int(account) + int(key)) % 97 == 0


@pytest.mark.parametrize("value, valid", [("732829320", True), ("404833048", True), ("732829321", False)],
                         ids=["siren-a", "siren-b", "siren-bad"])
def test_luhn_on_known_sirens(value: str, valid: bool) -> None:
    assert ids.luhn_is_valid(value) is valid


def test_generated_sirens_pass_luhn_and_give_the_published_vat_key() -> None:
    rng = random.Random(7)
    for _ in range(200):
        s = ids.siren(rng)
        assert len(s) == 9 and ids.luhn_is_valid(s)
    assert ids.fr_vat("404833048") == "FR83404833048"


def test_german_vat_ids_have_nine_digits() -> None:
    rng = random.Random(2)
    values = {ids.de_vat(rng) for _ in range(50)}
    assert all(v.startswith("DE") and len(v) == 11 and v[2:].isdigit() for v in values)


@pytest.mark.parametrize("payload", ["539007547034", "FA-2025-000123", "RE-2024-00007"],
                         ids=["iso-example", "fr-invoice", "de-invoice"])
def test_rf_references_are_valid_iso11649(payload: str) -> None:
    ref = ids.rf_reference(payload)
    assert ids.rf_is_valid(ref)
    assert ref[4:] == "".join(ch for ch in payload if ch.isalnum())


def test_rf_published_example() -> None:
    assert ids.rf_reference("539007547034") == "RF18539007547034"
    assert not ids.rf_is_valid("RF19539007547034")


def test_id_factory_is_deterministic_and_unique() -> None:
    a, b = ids.IdFactory(random.Random("x")), ids.IdFactory(random.Random("x"))
    first = [a.stripe("ch_3") for _ in range(100)]
    assert first == [b.stripe("ch_3") for _ in range(100)]
    assert len(set(first)) == 100 and all(len(v) == 27 for v in first)
    assert a.gocardless("PM").startswith("PM") and len(a.gocardless("PM")) == 14
