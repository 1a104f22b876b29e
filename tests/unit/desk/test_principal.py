"""Roles are ordered and scope is per entity."""

from __future__ import annotations

import pytest

from desk.users import Principal


@pytest.mark.parametrize(("role", "needed", "ok"), [
    ("reader", "reader", True), ("reader", "reviewer", False), ("reviewer", "reviewer", True),
    ("reviewer", "credit_controller", False), ("credit_controller", "reviewer", True), ("admin", "credit_controller", True),
], ids=["reader-reads", "reader-cannot-review", "reviewer-reviews", "reviewer-cannot-dispute", "cc-reviews",
        "admin-all"])
def test_roles_are_ordered(role: str, needed: str, ok: bool) -> None:
    assert Principal("u", role, ("FR01",)).can(needed) is ok


def test_scope() -> None:
    fr = Principal("u", "reader", ("FR01",))
    assert fr.sees("FR01") and not fr.sees("DE01")
    assert fr.scope(["DE01", "FR01", "UK01"]) == ["FR01"]
    assert Principal("a", "admin", ("*",)).scope(["DE01", "FR01"]) == ["DE01", "FR01"]
