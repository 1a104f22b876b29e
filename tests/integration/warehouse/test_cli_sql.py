"""``lettrage sql`` reads and never writes, on both engines (on Postgres a CREATE, INSERT or DELETE committed)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from lettrage import cli
from lettrage.config import WarehouseConfig
from warehouse.engine import connect


@pytest.mark.parametrize("statement", ["CREATE TABLE zz_probe AS SELECT 1 AS x", "INSERT INTO t VALUES (2)",
                                       "DELETE FROM t"], ids=["create", "insert", "delete"])
def test_the_sql_command_refuses_to_write(warehouse_config: WarehouseConfig, statement: str) -> None:
    with connect(warehouse_config) as engine:
        engine.execute("CREATE TABLE t (a INTEGER)")
        engine.execute("INSERT INTO t VALUES (1)")
    result = CliRunner().invoke(cli.app, ["sql", statement], env={"COLUMNS": "300"})
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert "read" in result.output.lower()  # (the engine's own words: a read-only transaction or database)
    with connect(warehouse_config) as engine:
        assert engine.query("SELECT a FROM t") == [(1,)] and not engine.table_exists("zz_probe")
    reading = CliRunner().invoke(cli.app, ["sql", "SELECT a FROM t"], env={"COLUMNS": "300"})
    assert reading.exit_code == 0 and "1 row(s)" in reading.output
