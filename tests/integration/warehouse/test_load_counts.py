"""Rows loaded per table are rows, on both engines (dlt's csv writer counts cells at normalize)."""

from __future__ import annotations

import dlt

from lettrage.config import WarehouseConfig
from warehouse.engine import connect
from warehouse.load import run_pipeline


def test_rows_loaded_are_counted_as_rows(warehouse_config: WarehouseConfig) -> None:
    rows = [{"id": i, "name": f"n{i}", "flag": i % 2 == 0} for i in range(20)]
    result = run_pipeline(
        "test_counts", dlt.resource(rows, name="raw_counted", primary_key="id", write_disposition="merge"),
        warehouse_config,
    )
    assert result.rows == {"raw_counted": 20}
    with connect(warehouse_config) as engine:
        assert engine.query("SELECT count(*) FROM raw_counted") == [(20,)]
