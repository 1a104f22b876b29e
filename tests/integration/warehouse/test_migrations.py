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


def test_raw_tables_loaded_before_a_connector_read_more_columns_build(warehouse_config: WarehouseConfig) -> None:
    """A B1 invoices table as an older connector wrote it (no DocTotalFc, PaidToDateFC, CancelStatus) and the
    FEC customers' (no Devise, no terms as written): the columns are added as NULL, the staging builds, the
    old rows read as before, and the next load of the new connector merges into them."""
    import dlt

    from connectors.sap_b1 import COLUMNS, to_row
    from warehouse.build import build_staging
    from warehouse.load import run_pipeline

    load_raw_book(warehouse_config)  # raw_sage_fec_customers without currency and payment_terms
    old = {k: v for k, v in COLUMNS["invoices"].items() if k not in ("DocTotalFc", "PaidToDateFC", "CancelStatus")}
    invoice = {"DocEntry": 1, "DocNum": 1, "DocDate": "2026-01-05", "DocDueDate": "2026-02-04", "CardCode": "C1",
               "DocCurrency": "EUR", "DocTotal": 100, "PaidToDate": 0, "Cancelled": "tNO", "UpdateDate": "2026-01-05"}
    run_pipeline("test_old_b1", [dlt.resource([to_row(invoice, "ES01")], name="invoices", table_name="raw_sap_b1_invoices",
                                              write_disposition="merge", primary_key="DocEntry", columns=old)],
                 warehouse_config)
    with connect(warehouse_config) as engine:
        before = set(engine.columns("raw_sap_b1_invoices"))
        report = build_staging(engine)  # migrates first
        rows = engine.query("SELECT invoice_id, amount_total FROM stg_sap_b1__invoices")
        terms = engine.query("SELECT count(*) FROM stg_sage_fec__customers WHERE currency IS NULL")[0][0]
    assert not {"doc_total_fc", "paid_to_date_fc", "cancel_status"} & before
    assert report.staging["stg_sap_b1__invoices"] == 1 and [(r[0], float(r[1])) for r in rows] == [("INV-1", 100.0)]
    assert terms == 1
    newer = {**invoice, "DocEntry": 2, "DocTotal": 91.9, "DocTotalFc": 100, "DocCurrency": "USD", "CancelStatus": "csNo"}
    run_pipeline("test_old_b1", [dlt.resource([to_row(newer, "ES01")], name="invoices", table_name="raw_sap_b1_invoices",
                                              write_disposition="merge", primary_key="DocEntry", columns=COLUMNS["invoices"])],
                 warehouse_config)
    with connect(warehouse_config) as engine:
        build_staging(engine)
        totals = dict(engine.query("SELECT invoice_id, amount_total FROM stg_sap_b1__invoices"))
    assert {k: float(v) for k, v in totals.items()} == {"INV-1": 100.0, "INV-2": 100.0}
