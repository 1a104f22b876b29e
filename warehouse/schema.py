"""Create and evolve the contract tables on whichever engine is configured.

``ensure_contract`` is idempotent: it creates missing tables and adds missing
columns (the contract only ever grows, see CONTRACT.md), so an older
warehouse is migrated in place and a fresh one is created identically on
DuckDB and Postgres.
"""

from __future__ import annotations

from collections.abc import Iterable

from warehouse.contract import CONTRACT, Table
from warehouse.engine import Engine


def column_ddl(engine: Engine, columns: Iterable[tuple[str, str]]) -> str:
    return ",\n  ".join(f'"{name}" {engine.type_of(kind)}' for name, kind in columns)


def create_table_sql(engine: Engine, table: Table) -> str:
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n  {column_ddl(engine, table.columns)}\n)'


def ensure_table(engine: Engine, name: str, columns: Iterable[tuple[str, str]]) -> None:
    columns = tuple(columns)
    existing = engine.columns(name)
    if not existing:
        engine.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (\n  {column_ddl(engine, columns)}\n)')
        return
    for column, kind in columns:
        if column not in existing:
            engine.execute(f'ALTER TABLE "{name}" ADD COLUMN "{column}" {engine.type_of(kind)}')


def ensure_contract(engine: Engine) -> None:
    """Create every contract table (and missing columns) in the engine's dataset."""
    for table in CONTRACT:
        ensure_table(engine, table.name, table.columns)
