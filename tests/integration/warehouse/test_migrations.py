"""Raw tables loaded by an older connector get the key columns dlt cannot add itself, on DuckDB and Postgres."""

from __future__ import annotations

from datetime import date

from lettrage.config import WarehouseConfig
from warehouse.engine import connect
from warehouse.migrations import migrate_raw

from .raw_book import load_raw_book


def test_fec_lines_loaded_before_the_fiscal_year_was_kept_get_theirs(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config)  # raw_sage_fec_lines as the connector wrote it before: no fiscal_year
    with connect(warehouse_config) as engine:
        staging = f"{engine.dataset}_staging"
        # dlt's merge copy of the table, kept from that older load, without the column either
        engine.execute(f'CREATE SCHEMA IF NOT EXISTS "{staging}"')
        engine.execute(f'CREATE TABLE "{staging}".raw_sage_fec_lines AS SELECT * FROM raw_sage_fec_lines')
        assert "fiscal_year" not in engine.columns("raw_sage_fec_lines")
        migrate_raw(engine)
        migrate_raw(engine)  # once done, a no-op
        years = engine.query("SELECT DISTINCT fiscal_year FROM raw_sage_fec_lines")
        copy_left = engine.query("SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_schema = :s AND table_name = 'raw_sage_fec_lines'", {"s": staging})
    assert years == [(date(2025, 12, 31),)]
    assert copy_left == [(0,)]  # scratch space, made again by the next load
