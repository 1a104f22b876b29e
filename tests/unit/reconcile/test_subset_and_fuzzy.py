"""Bounded subset-sum, fuzzy names and references, tolerances."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from mappings.matching import load_matching_rules
from warehouse.reconcile.decisions import normalize_name
from warehouse.reconcile.fuzzy import best_name, reference_close
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
