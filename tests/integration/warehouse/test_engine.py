"""The DuckDB adapter's edge cases that a demo user hits first."""

from __future__ import annotations

from pathlib import Path

from warehouse.engine import DuckDBEngine


def test_a_file_named_like_the_dataset_is_not_ambiguous(tmp_path: Path) -> None:
    path = str(tmp_path / "lettrage.duckdb")  # catalog "lettrage" holding schema "lettrage"
    engine = DuckDBEngine(path, "lettrage")
    engine.execute("CREATE TABLE t (x INTEGER)")
    engine.execute("INSERT INTO t VALUES (1)")
    assert engine.table_exists("t")
    engine.close()
    reader = DuckDBEngine(path, "lettrage", read_only=True)
    assert reader.query("SELECT sum(x) FROM t") == [(1,)]
    reader.close()


def test_a_read_only_open_beside_a_writer_of_the_same_process_shares_its_mode(tmp_path: Path) -> None:
    path = str(tmp_path / "wh.duckdb")
    writer = DuckDBEngine(path, "lettrage")
    writer.execute("CREATE TABLE t (x INTEGER)")
    reader = DuckDBEngine(path, "lettrage", read_only=True)
    assert reader.query("SELECT count(*) FROM t") == [(0,)]
    reader.close()
    writer.close()
