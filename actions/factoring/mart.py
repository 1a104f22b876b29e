"""``mart_factoring``: financed amount, reserve outstanding, fees paid and the cash effect on DSO.

Kept here rather than in ``warehouse/models/marts`` because it reads the
factoring outbox tables, which only this package creates; the SQL is plain and
runs on both engines. Rebuilt in one transaction, like every mart.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from actions.factoring.schema import ensure_factoring_tables
from actions.factoring.selection import read_sql
from warehouse.engine import Engine

MART = "mart_factoring"


def build_mart_factoring(engine: Engine, as_of: date) -> int:
    """Replace ``mart_factoring`` as of ``as_of``; returns its row count."""
    ensure_factoring_tables(engine)
    select = read_sql("mart_factoring.sql")
    params = {"as_of": as_of, "since": as_of - timedelta(days=90)}
    with engine.transaction():
        engine.execute(f'DROP TABLE IF EXISTS "{MART}"')
        engine.execute(f'CREATE TABLE "{MART}" AS {select}', params)
    from warehouse.access import apply_access

    apply_access(engine)  # the recreated mart gets its grants and row-level security back (no-op on DuckDB)
    return int(engine.query(f'SELECT count(*) FROM "{MART}"')[0][0])


def read_mart(engine: Engine, entity: str | None = None) -> list[dict[str, Any]]:
    where = " WHERE entity = :e" if entity else ""
    return engine.query_dicts(f'SELECT * FROM "{MART}"{where} ORDER BY entity, contract_id',
                              {"e": entity} if entity else None)
