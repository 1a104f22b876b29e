"""Every figure's rows add up to the figure: the drill-down and the marts agree."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from desk import queries
from desk.db import session


@pytest.mark.parametrize("bucket", queries.BUCKETS)
def test_rows_behind_each_aged_bucket_sum_to_the_mart(desk_world: dict[str, Any], bucket: str) -> None:
    with session(desk_world["config"]) as engine:
        on = queries.as_of(engine, "FR01")
        assert isinstance(on, date)
        rows = queries.open_items(engine, "FR01", on, bucket=bucket)
        mart = {r["bucket"]: Decimal(r["amount"]) for r in queries.aged_balance(engine, "FR01")}
    assert sum((Decimal(r["amount_open"]) for r in rows), Decimal(0)) == mart.get(bucket, Decimal(0))
    assert all(r["bucket"] == bucket for r in rows)


@pytest.mark.parametrize("status", queries.OPEN_STATUSES)
def test_rows_behind_each_status_sum_to_the_mart(desk_world: dict[str, Any], status: str) -> None:
    with session(desk_world["config"]) as engine:
        on = queries.as_of(engine, "FR01")
        assert isinstance(on, date)
        rows = queries.open_items(engine, "FR01", on, status=status)
        mart = {r["status"]: Decimal(r["amount"]) for r in queries.encours_by_status(engine, "FR01")}
    assert sum((Decimal(r["amount_open"]) for r in rows), Decimal(0)) == mart.get(status, Decimal(0))
