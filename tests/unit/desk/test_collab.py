"""Pure pieces of the desk's database roles, split form and forecast chart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from desk import charts
from desk.app import _parts
from desk.db import DB_GROUP, db_role_name
from desk.users import ROLES
from warehouse.access.roles import check_identifier


@pytest.mark.parametrize("username", ["alice", "alice@example.com", "jean-luc.picard", "x" * 60, "ALICE"],
                         ids=["plain", "email", "dots", "long", "upper"])
def test_db_role_name_is_a_valid_identifier_with_the_prefix(username: str) -> None:
    name = db_role_name("lettrage", username)
    assert check_identifier(name) == name and len(name) <= 63
    assert name.startswith("lettrage_desk_")


def test_db_role_names_do_not_collide_when_names_fold_alike() -> None:
    assert db_role_name("p", "a.b") != db_role_name("p", "a_b") != db_role_name("p", "a@b")
    assert db_role_name("p", "Alice") == db_role_name("p", "alice")  # desk user names are case-insensitive


def test_every_desk_role_maps_to_an_access_group_and_only_readers_to_the_reader_group() -> None:
    assert set(DB_GROUP) == set(ROLES)
    assert {r for r, g in DB_GROUP.items() if g == "reader"} == {"reader"}
    assert set(DB_GROUP.values()) <= {"reader", "reviewer"}  # the desk never hands out loader/admin rights on data


def test_split_form_fields_become_parts() -> None:
    form = {"csrf": "t", "amount:I1": "200.00", "amount:I2": " ", "amount:I/3": "5", "extra_invoice": "I9",
            "extra_amount": "1.50", "reason": "x"}
    assert _parts(form) == [("I1", Decimal("200.00")), ("I/3", Decimal(5)), ("I9", Decimal("1.50"))]


def test_split_form_rejects_a_non_amount() -> None:
    from starlette.exceptions import HTTPException

    with pytest.raises(HTTPException) as err:
        _parts({"amount:I1": "two hundred"})
    assert err.value.status_code == 400


def test_forecast_actual_chart_draws_one_pair_per_month_and_a_chart_per_currency() -> None:
    rows = [{"month_end": date(2026, 8, 31), "currency": "EUR", "forecast": Decimal(100), "actual": Decimal(80)},
            {"month_end": date(2026, 9, 30), "currency": "EUR", "forecast": Decimal(50), "actual": Decimal(0)},
            {"month_end": date(2026, 9, 30), "currency": "USD", "forecast": Decimal(10), "actual": Decimal(20)}]
    svg = charts.forecast_actual(rows)
    assert svg.count("<svg") == 2 and svg.count("<rect") == 6
    assert "2026-08-31 forecast: 100.00 EUR" in svg and "2026-09-30 actual: 20.00 USD" in svg
    assert 'height="120.0"' in svg  # the largest value of a currency fills the height
    assert "no month end" in charts.forecast_actual([])
