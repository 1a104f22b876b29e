"""Bounded subset-sum, fuzzy names and references, tolerances."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mappings.matching import load_matching_rules
from warehouse.reconcile.decisions import normalize_name
from warehouse.reconcile.fuzzy import abbreviated_name, abbreviates, best_name, reference_close
from warehouse.reconcile.residue import within_tolerance
from warehouse.reconcile.subset import oldest_prefix, subset_sum

RULES = load_matching_rules()


@pytest.mark.parametrize(("amounts", "target", "expected", "unique"), [
    ([100, 200, 300], 500, ((1, 2),), True),
    ([100, 200, 300, 400], 500, ((0, 3), (1, 2)), False),
    ([1000, -200, 500], 800, ((0, 1),), True),
    ([100, 200], 50, (), False),
    ([5] * 30, 35, ((0, 1, 2, 3, 4, 5, 6),), False),
], ids=["unique-pair", "two-solutions", "credit-note-netted", "none", "beyond-size-bound"])
def test_subset_sum(amounts: list[int], target: int, expected: tuple, unique: bool) -> None:
    result = subset_sum(amounts, target, max_size=7 if len(amounts) == 30 else 6, limit=2)
    assert result.solutions[: len(expected)] == expected
    assert (result.unique is not None) == unique


def test_subset_sum_budget_is_reported() -> None:
    result = subset_sum([2 * k for k in range(1, 41)], 401, max_size=12, max_nodes=1000)  # odd: no solution
    assert result.exhausted and result.unique is None


@pytest.mark.parametrize(("amounts", "target", "n"), [
    ([100, 200, 300], 300, 2), ([100, 200], 250, None), ([100, -50, 200], 250, 3),
], ids=["two-oldest", "no-prefix", "with-credit-note"])
def test_oldest_prefix(amounts: list[int], target: int, n: int | None) -> None:
    assert oldest_prefix(amounts, target, 6) == n


@pytest.mark.parametrize(("raw", "expected"), [
    ("ACME SARL", "ACME"), ("Müller GmbH & Co. KG", "MULLER"), ("Société Générale SA", "GENERALE"), ("SA", "SA"),
    ("ACME S.A.R.L.", "ACME"), ("Boulangerie Dupont S.A.S", "BOULANGERIE DUPONT"),
], ids=["sarl", "gmbh-co-kg", "accents-and-societe", "only-legal-form", "dotted-sarl", "dotted-sas"])
def test_normalize_name(raw: str, expected: str) -> None:
    assert normalize_name(raw, RULES.fuzzy.legal_forms) == expected


@pytest.mark.parametrize(("name", "winner"), [
    ("ACME", "C1"), ("ACMEE", "C1"), ("DUPONT", None), ("BOULANGERIE MARTIN", None),
], ids=["exact", "typo", "unknown", "two-equal-candidates"])
def test_best_name(name: str, winner: str | None) -> None:
    choices = {"C1": "ACME", "C2": "BOULANGERIE MARTIN NORD", "C3": "BOULANGERIE MARTIN SUD"}
    found = best_name(name, choices, cutoff=85, margin=5)
    assert (found[0] if found else None) == winner


@pytest.mark.parametrize(("a", "b", "close"), [
    ("202400123", "202400132", True), ("202400123", "202400124", True), ("202400123", "202400123", False),
    ("202400123", "202400999", False), ("1234", "1243", False),
], ids=["transposed", "one-typo", "equal-is-not-fuzzy", "too-far", "too-short"])
def test_reference_close(a: str, b: str, close: bool) -> None:
    assert reference_close(a, b, max_distance=1, min_length=5) is close


@pytest.mark.parametrize(("short", "total", "paid", "reason"), [
    ("0.03", "1000.00", date(2024, 6, 30), "rounding difference"),
    ("20.00", "1000.00", date(2024, 5, 5), "early-payment discount 2.0%"),
    ("12.00", "1000.00", date(2024, 6, 30), "bank charges within tolerance"),
    ("12.00", "100.00", date(2024, 6, 30), None),
    ("400.00", "1000.00", date(2024, 6, 30), None),
], ids=["rounding", "discount", "bank-charges", "charges-too-large-share", "partial-payment"])
def test_within_tolerance(short: str, total: str, paid: date, reason: str | None) -> None:
    assert within_tolerance(RULES, Decimal(short), Decimal(total), paid, date(2024, 5, 1)) == reason


@pytest.mark.parametrize(("short", "word", "expected"), [
    ("IND", "INDUSTRIES", True), ("INTL", "INTERNATIONAL", True), ("ETS", "ETABLISSEMENTS", True),
    ("MGMT", "MANAGEMENT", True), ("ACME", "ACME", True), ("I", "INDUSTRIES", False), ("NDS", "INDUSTRIES", False),
    ("INDUSTRIESX", "INDUSTRIES", False), ("2000", "20001", False), ("ISD", "INDUSTRIES", False)])
def test_abbreviates(short: str, word: str, expected: bool) -> None:
    assert abbreviates(short, word) is expected


@pytest.mark.parametrize(("payer", "winner"), [
    ("ACME IND INTL", "C1"), ("ETS DUPONT CONSTR", "C2"), ("GEN DE CONSTR", "C4"), ("GEN CONSTR", "C4"),
    ("BETA MGMT SVCS", "C7"), ("ACME LOG", "C3"),
    ("ACME", None),          # abbreviates nobody's whole name
    ("ACME L", None),        # too few letters
    ("MARTIN", None),        # an equal name is the exact look-up's, not this one's
    ("MARTIN TRANSP", "C6"), ("AB", None)])
def test_abbreviated_name(payer: str, winner: str | None) -> None:
    names = {"C1": "ACME INDUSTRIES INTERNATIONAL", "C2": "ETABLISSEMENTS DUPONT CONSTRUCTIONS", "C3": "ACME LOGISTICS",
             "C4": "GENERALE DE CONSTRUCTION", "C5": "MARTIN", "C6": "MARTIN TRANSPORTS",
             "C7": "BETA MANAGEMENT SERVICES"}
    assert abbreviated_name(payer, names, min_letters=6, connectors=frozenset({"DE", "AND"})) == winner


def test_an_abbreviation_of_two_customers_names_neither() -> None:
    names = {"C1": "ACME INDUSTRIES", "C2": "ACME INDUSTRIAL"}
    assert abbreviated_name("ACME IND", names, min_letters=6, connectors=frozenset()) is None
