"""Sage Accounting connector against the sandbox: paging, faults, expired token, incremental, staging."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import dlt
import pytest

from connectors.sage_accounting import sage_accounting_source
from lettrage.config import WarehouseConfig
from lettrage.errors import AuthenticationExpired
from sandbox.server import RunningSandbox
from tests.fixtures.loading import rows, scalar
from tests.integration.connectors.sage_accounting.erp_world import (
    FAST_RETRIES,
    append_jsonl,
    credentials,
    first_jsonl,
    ground_truth,
    root_cause,
    served,
)
from warehouse.build import build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline

ENTITY = "UK01"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    yield from served(tmp_path / "world", ENTITY)


def _source(sandbox: RunningSandbox, token: str | None = None, page_size: int = 200) -> dlt.sources.DltSource:
    token = token or credentials(sandbox.state.root, ENTITY, "sage_accounting")["access_token"]
    return sage_accounting_source(ENTITY, access_token=token, base_url=f"{sandbox.url}/sage", page_size=page_size,
                                  retry_policy=FAST_RETRIES)


def test_full_sync_pages_and_builds_staging(sandbox: RunningSandbox, warehouse_config: WarehouseConfig) -> None:
    run_pipeline("sage_uk01", _source(sandbox, page_size=7), warehouse_config)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_accounting_contacts") == 20
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_accounting_payment_allocations") > 0
    with connect(warehouse_config) as engine:
        report = build_staging(engine)
    count, total = ground_truth(sandbox.state.root, ENTITY)
    assert report.staging["stg_sage_accounting__invoices"] == count
    got = rows(warehouse_config, "SELECT count(*), sum(amount_total), min(currency) FROM stg_sage_accounting__invoices")
    assert got[0][0] == count and Decimal(got[0][1]) == total and got[0][2] == "GBP"
    # the ERP's allocations arrive as evidence on both sides
    assert scalar(warehouse_config, "SELECT count(*) FROM stg_sage_accounting__invoices WHERE erp_lettrage IS NOT NULL") > 0
    assert scalar(warehouse_config, "SELECT count(*) FROM stg_sage_accounting__payments "
                                    "WHERE channel = 'erp' AND erp_lettrage IS NOT NULL") > 0
    assert scalar(warehouse_config, "SELECT count(*) FROM stg_sage_accounting__customers WHERE payment_terms_days > 0") == 20


def test_rate_limit_and_server_errors_are_retried(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    sandbox.faults.set(provider="sage_accounting", rate_limit=2, retry_after=0.2, server_error=2)
    started = time.monotonic()
    result = run_pipeline("sage_faults", _source(sandbox), config)
    assert time.monotonic() - started >= 0.4  # Retry-After honoured twice
    assert sandbox.faults.snapshot()["injected"] == {"rate_limit": 2, "server_error": 2, "drop": 0}
    assert result.rows["raw_sage_accounting_sales_invoices"] == 63


def test_expired_token_is_a_clear_error_and_saves_nothing(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    token = credentials(sandbox.state.root, ENTITY, "sage_accounting")["access_token"]
    sandbox.faults.set(revoked=[token])
    with pytest.raises(Exception) as info:
        run_pipeline("sage_expired", _source(sandbox), config)
    cause = root_cause(info.value)
    assert isinstance(cause, AuthenticationExpired) and "HTTP 401" in str(cause) and "secrets.toml" in str(cause)
    with connect(config) as engine:
        assert not engine.table_exists("raw_sage_accounting_sales_invoices")


def test_second_sync_reads_only_changes(sandbox: RunningSandbox, warehouse_config: WarehouseConfig) -> None:
    run_pipeline("sage_incr", _source(sandbox), warehouse_config)
    path = sandbox.state.root / ENTITY / "sage_accounting" / "sales_invoices.jsonl"
    invoice = first_jsonl(path)
    invoice.update(outstanding_amount="0.00", status={"id": "PAID", "displayed_as": "Paid"},
                   updated_at="2025-07-01T09:00:00Z")
    append_jsonl(path, invoice)
    again = run_pipeline("sage_incr", _source(sandbox), warehouse_config)
    if warehouse_config.engine == "duckdb":  # dlt's normalize counts are only exact for its jsonl/parquet files
        assert again.rows.get("raw_sage_accounting_sales_invoices") == 1
        assert again.rows.get("raw_sage_accounting_contacts", 0) == 0
    assert "raw_sage_accounting_contacts" not in again.rows
    assert scalar(warehouse_config, f"SELECT outstanding_amount FROM raw_sage_accounting_sales_invoices "
                                    f"WHERE id = '{invoice['id']}'") == 0
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_accounting_sales_invoices") == 63


def test_an_invoice_with_an_unreadable_value_is_quarantined_and_the_others_load(
        sandbox: RunningSandbox, warehouse_config: WarehouseConfig) -> None:
    """A total of "2,005.62" failed the whole source, a date of 31/10/2025 loaded into a variant column: both
    invoices are quarantined and the other 61 load."""
    path = sandbox.state.root / ENTITY / "sage_accounting" / "sales_invoices.jsonl"
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    first, second = lines[0], lines[1]
    append_jsonl(path, {**first, "total_amount": "2,005.62"})
    append_jsonl(path, {**second, "date": "31/10/2025"})
    result = run_pipeline("sage_quarantine", _source(sandbox, page_size=7), warehouse_config)
    assert result.rows.get("raw_quarantine") == 2
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sage_accounting_sales_invoices") == 61
    got = rows(warehouse_config, "SELECT file, field, reason FROM raw_quarantine ORDER BY field")
    assert [(r[0], r[1]) for r in got] == [
        (f"sales_invoices {second['id']} ({second['displayed_as']})", "date"),
        (f"sales_invoices {first['id']} ({first['displayed_as']})", "total_amount")]
    assert "'31/10/2025'" in got[0][2] and "'2,005.62'" in got[1][2]
