"""Due dates of a FEC's invoices from the customers' terms, on DuckDB and Postgres.

A FEC has no due date. French terms are mostly "fin de mois" (45 jours fin de mois is the legal cap):
the days from the issue date, then the end of that month. The customers export gives the days, the terms
as written ("LCR 45J FDM"), or neither (the entity's default).
"""

from __future__ import annotations

from datetime import date

import dlt

from lettrage.config import WarehouseConfig
from warehouse.build import build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline

from .raw_book import FEC_CUSTOMERS, _fec, load_raw_book

INVOICES = [
    _fec("50", "VE", 1, "411000", "C002", "FA-2025-000502", date(2025, 1, 15), "100.00", "0.00"),
    _fec("50", "VE", 2, "706000", "", "FA-2025-000502", date(2025, 1, 15), "0.00", "100.00"),
    _fec("51", "VE", 1, "411000", "C003", "FA-2025-000503", date(2025, 1, 20), "100.00", "0.00"),
    _fec("51", "VE", 2, "706000", "", "FA-2025-000503", date(2025, 1, 20), "0.00", "100.00"),
]


def test_end_of_month_terms_end_at_the_month_end(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_fec_lines=INVOICES)
    customers = [{**FEC_CUSTOMERS[0], "payment_terms_days": 45, "payment_terms": "LCR 45J FDM"},
                 {**FEC_CUSTOMERS[0], "customer_account": "C002", "payment_terms_days": None,
                  "payment_terms": "Virement 30 jours fin de mois"},
                 {**FEC_CUSTOMERS[0], "customer_account": "C003", "payment_terms_days": None, "payment_terms": None}]
    run_pipeline("test_fec_terms", [dlt.resource(customers, name="raw_sage_fec_customers", write_disposition="replace",
                                                 columns={"payment_terms_days": {"data_type": "bigint"},
                                                          "payment_terms": {"data_type": "text"}})], warehouse_config)
    with connect(warehouse_config) as engine:
        build_staging(engine)
        due = dict(engine.query("SELECT invoice_id, due_date FROM stg_sage_fec__invoices "
                                "WHERE invoice_id IN ('FA-2025-000001', 'FA-2025-000502', 'FA-2025-000503')"))
    assert due == {"FA-2025-000001": date(2025, 2, 28),   # 10 January + 45 days = 24 February, end of month
                   "FA-2025-000502": date(2025, 2, 28),   # 15 January + 30 days (from the text) = 14 February
                   "FA-2025-000503": date(2025, 2, 19)}   # no terms: FR01's default, 30 days
