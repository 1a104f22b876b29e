"""The small world's three API ERPs, synced through the sandbox, add up to the generator's ground truth."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from connectors.netsuite import netsuite_source
from connectors.sage_accounting import sage_accounting_source
from connectors.sap_b1 import sap_b1_source
from lettrage.config import WarehouseConfig
from sandbox.server import RunningSandbox, serve
from tests.fixtures.loading import rows, small_world
from tests.integration.connectors.sage_accounting.erp_world import FAST_RETRIES, credentials
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def erp_sandbox() -> Iterator[RunningSandbox]:
    with serve(small_world()) as sandbox:
        yield sandbox


def test_every_api_erp_loads_to_int_invoices_matching_ground_truth(erp_sandbox: RunningSandbox,
                                                                   warehouse_config: WarehouseConfig) -> None:
    root, url = erp_sandbox.state.root, erp_sandbox.url
    sources = {
        "UK01": sage_accounting_source("UK01", base_url=f"{url}/sage", retry_policy=FAST_RETRIES,
                                       **credentials(root, "UK01", "sage_accounting")),
        "US01": netsuite_source("US01", base_url=f"{url}/netsuite", retry_policy=FAST_RETRIES,
                                **credentials(root, "US01", "netsuite")),
        "ES01": sap_b1_source("ES01", base_url=url, retry_policy=FAST_RETRIES, **credentials(root, "ES01", "sap_b1")),
    }
    for entity, source in sources.items():
        run_pipeline(f"world_{entity.lower()}", source, warehouse_config)
    with connect(warehouse_config) as engine:
        build_staging(engine)
        build_core(engine, as_of=AS_OF)
    expected: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    with (root / "ground_truth" / "invoices.csv").open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["entity"] in sources:
                expected[r["entity"]][0] += 1
                expected[r["entity"]][1] += Decimal(r["amount_total"])
    got = {e: [Decimal(n), Decimal(s)] for e, n, s in rows(
        warehouse_config, "SELECT entity, count(*), sum(amount_total) FROM int_invoices "
                          "WHERE entity IN ('UK01', 'US01', 'ES01') GROUP BY entity")}
    assert got == dict(expected)
    customers = dict(rows(warehouse_config, "SELECT entity, count(*) FROM dim_customer "
                                            "WHERE entity IN ('UK01', 'US01', 'ES01') GROUP BY entity"))
    assert customers == {"UK01": 20, "US01": 20, "ES01": 20}
    erp_payments = dict(rows(warehouse_config, "SELECT source_system, count(*) FROM fct_payment WHERE channel = 'erp' "
                                               "AND entity IN ('UK01', 'US01', 'ES01') GROUP BY source_system"))
    assert set(erp_payments) == {"sage_accounting", "netsuite", "sap_b1"}
