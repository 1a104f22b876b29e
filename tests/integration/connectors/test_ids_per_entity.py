"""ERP ids are numbered per account or company database: two entities hold the same ids, and neither load may
replace the other's rows (raw keys and merge keys start with the entity)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pytest

from connectors.netsuite import netsuite_source
from connectors.sage_accounting import sage_accounting_source
from connectors.sap_b1 import sap_b1_source
from lettrage.config import WarehouseConfig
from sandbox.server import RunningSandbox
from tests.fixtures.loading import rows
from tests.integration.connectors.sage_accounting.erp_world import (
    FAST_RETRIES,
    credentials,
    ground_truth,
    served,
)
from warehouse.build import build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline


def _netsuite(sb: RunningSandbox, world: str, entity: str) -> dlt.sources.DltSource:
    creds = credentials(sb.state.root, world, "netsuite")
    return netsuite_source(entity, base_url=f"{sb.url}/netsuite", retry_policy=FAST_RETRIES, **creds)


def _sap_b1(sb: RunningSandbox, world: str, entity: str) -> dlt.sources.DltSource:
    return sap_b1_source(entity, base_url=sb.url, retry_policy=FAST_RETRIES, **credentials(sb.state.root, world, "sap_b1"))


def _sage(sb: RunningSandbox, world: str, entity: str) -> dlt.sources.DltSource:
    token = credentials(sb.state.root, world, "sage_accounting")["access_token"]
    return sage_accounting_source(entity, access_token=token, base_url=f"{sb.url}/sage", retry_policy=FAST_RETRIES)


ERPS: dict[str, tuple[str, Callable[[RunningSandbox, str, str], dlt.sources.DltSource], list[str]]] = {
    "netsuite": ("US01", _netsuite, ["customers", "transactions", "payment_applications"]),
    "sap_b1": ("ES01", _sap_b1, ["business_partners", "invoices", "incoming_payments", "payment_invoices"]),
    "sage_accounting": ("UK01", _sage, ["contacts", "sales_invoices", "contact_payments", "payment_allocations"]),
}


@pytest.fixture(params=sorted(ERPS))
def erp(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, RunningSandbox]]:
    world = ERPS[request.param][0]
    for sb in served(tmp_path / "world", world):
        yield request.param, sb


def _counts(config: WarehouseConfig, table: str) -> dict[str, int]:
    return {e: int(n) for e, n in rows(config, f"SELECT entity, count(*) FROM {table} GROUP BY entity")}


def test_two_entities_with_the_same_ids_keep_their_own_rows(erp: tuple[str, RunningSandbox],
                                                           warehouse_config: WarehouseConfig) -> None:
    name, sb = erp
    world, source, tables = ERPS[name]
    run_pipeline(f"{name}_a", source(sb, world, "AA01"), warehouse_config)
    first = {t: _counts(warehouse_config, f"raw_{name}_{t}")["AA01"] for t in tables}
    run_pipeline(f"{name}_b", source(sb, world, "BB01"), warehouse_config)
    # the first entity read again from the start (a backfill): its merge replaces only its own rows
    run_pipeline(f"{name}_a_again", source(sb, world, "AA01"), warehouse_config)
    for t in tables:
        assert _counts(warehouse_config, f"raw_{name}_{t}") == {"AA01": first[t], "BB01": first[t]}, t
    with connect(warehouse_config) as engine:
        build_staging(engine)
    count, total = ground_truth(sb.state.root, world)
    got: dict[str, Any] = {e: (int(n), Decimal(s)) for e, n, s in rows(
        warehouse_config, f"SELECT entity, count(*), sum(amount_total) FROM stg_{name}__invoices GROUP BY entity")}
    assert got == {"AA01": (count, total), "BB01": (count, total)}
