"""The build fingerprint moves with every input and only with them."""

from __future__ import annotations

from datetime import date

import dlt
import pyarrow as pa

from lettrage.config import WarehouseConfig
from warehouse.engine import connect
from warehouse.freshness import build_fingerprint, last_fingerprint, record_fingerprint
from warehouse.load import run_pipeline

DAY = date(2026, 11, 20)


def test_fingerprint_is_stable_until_a_load_or_the_date_changes(warehouse_config: WarehouseConfig) -> None:
    run_pipeline("fp", dlt.resource([{"id": 1}], name="raw_fp", primary_key="id", write_disposition="merge"),
                 warehouse_config)
    with connect(warehouse_config) as engine:
        first = build_fingerprint(engine, DAY)
        assert last_fingerprint(engine) is None
        record_fingerprint(engine, first)
        assert last_fingerprint(engine) == first
        assert build_fingerprint(engine, DAY) == first
        assert build_fingerprint(engine, date(2026, 11, 21)) != first
    run_pipeline("fp", dlt.resource([{"id": 2}], name="raw_fp", primary_key="id", write_disposition="merge"),
                 warehouse_config)
    with connect(warehouse_config) as engine:
        assert build_fingerprint(engine, DAY) != first
        before = build_fingerprint(engine, DAY)
        engine.execute("CREATE TABLE decision (created_at TIMESTAMP WITH TIME ZONE)")
        assert build_fingerprint(engine, DAY) == before  # an empty table is no new input
        engine.execute("INSERT INTO decision VALUES (now())")
        assert build_fingerprint(engine, DAY) != before


def test_an_arrow_load_moves_the_fingerprint(warehouse_config: WarehouseConfig) -> None:
    """The file connectors yield arrow tables: a customer export dropped again the same day (a fixed
    header) must make the next sync rebuild, as a load of dict rows does."""
    def customers(names: list[str]) -> object:
        return dlt.resource([pa.table({"id": list(range(len(names))), "name": names})], name="raw_fp_arrow",
                            primary_key="id", write_disposition="merge")

    run_pipeline("fp_arrow", customers(["ACME"]), warehouse_config)
    with connect(warehouse_config) as engine:
        first = build_fingerprint(engine, DAY)
        assert "_dlt_load_id" in engine.columns("raw_fp_arrow")
    run_pipeline("fp_arrow", customers(["ACME SAS"]), warehouse_config)
    with connect(warehouse_config) as engine:
        assert build_fingerprint(engine, DAY) != first
