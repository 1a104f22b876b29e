from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from lettrage.config import WarehouseConfig
from tests.integration.marts.book import AS_OF, load_book
from warehouse.build import build_marts
from warehouse.engine import Engine, connect


@pytest.fixture
def book(warehouse_config: WarehouseConfig) -> Iterator[Engine]:
    """The tiny book loaded and every mart built as of 2024-03-15, on each engine."""
    with connect(warehouse_config) as engine:
        load_book(engine)
        build_marts(engine, as_of=AS_OF)
        yield engine


def insert_dicts(engine: Engine, table: str, items: list[dict[str, Any]]) -> None:
    """Insert ``items`` (dicts with the same keys) into ``table``, as a book written straight into the contract tables."""
    cols = list(items[0])
    engine.executemany(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join(":" + c for c in cols)})',
                       items)


def rows(engine: Engine, sql: str) -> list[dict[str, Any]]:
    """Query rows with Decimals normalised (DuckDB and Postgres agree on values, not on scale)."""
    out = []
    for row in engine.query_dicts(sql):
        out.append({k: (v.normalize() if isinstance(v, Decimal) else v) for k, v in row.items()})
    return out


def D(text: str) -> Decimal:  # noqa: N802 - reads like a literal in the expectations
    return Decimal(text).normalize()
