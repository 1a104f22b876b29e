"""Shared fixtures: a fresh warehouse per test on DuckDB and on Postgres.

``warehouse`` is parametrised over both engines; Postgres tests use a schema of
their own in database ``test`` on 127.0.0.1:5432 and drop it afterwards.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
# dlt's pipeline state (incremental cursors) of a test that names no folder of its own goes to a folder of the test
# session, not to the checkout's var/dlt, where the next run's pipelines of the same name would start from it
os.environ.setdefault("LETTRAGE__PIPELINES_DIR", tempfile.mkdtemp(prefix="lettrage-tests-dlt-"))
# (and the reports and ERP proposals the flows write: the checkout's var/ is the demo's)
os.environ.setdefault("LETTRAGE__REPORTS_DIR", tempfile.mkdtemp(prefix="lettrage-tests-reports-"))
os.environ.setdefault("LETTRAGE__PROPOSALS_DIR", tempfile.mkdtemp(prefix="lettrage-tests-erp-"))

from lettrage.config import WarehouseConfig  # noqa: E402

PG_URL = os.environ.get("LETTRAGE_TEST_PG_URL", "postgresql://postgres:placeholder@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        import psycopg2

        psycopg2.connect(PG_URL, connect_timeout=3).close()
        return True
    except Exception:
        return False


def _drop_pg_schema(dataset: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{dataset}" CASCADE')
        cur.execute(f'DROP SCHEMA IF EXISTS "{dataset}_staging" CASCADE')
    conn.close()


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_config(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[WarehouseConfig]:
    """A fresh, empty warehouse on each engine; sets LETTRAGE__* so code under test finds it."""
    monkeypatch.setenv("LETTRAGE__PIPELINES_DIR", str(tmp_path / "dlt"))
    if request.param == "duckdb":
        config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}", dataset="lettrage")
        monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", config.url)
        monkeypatch.setenv("LETTRAGE__DATASET", config.dataset)
        yield config
        return
    if not _pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"Postgres is required in CI but {PG_URL} is unreachable")
        pytest.skip("Postgres not reachable on 127.0.0.1:5432")
    dataset = f"t_{uuid.uuid4().hex[:12]}"
    config = WarehouseConfig(url=PG_URL, dataset=dataset)
    monkeypatch.setenv("LETTRAGE__WAREHOUSE_URL", config.url)
    monkeypatch.setenv("LETTRAGE__DATASET", config.dataset)
    try:
        yield config
    finally:
        _drop_pg_schema(dataset)
