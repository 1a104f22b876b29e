"""The sap_export source end to end into DuckDB and Postgres: layouts, BSAD over BSID, re-drop, quarantine."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from connectors.sap_export import sap_export_source
from lettrage.config import WarehouseConfig
from lettrage.errors import WrongFormat
from tests.fixtures.golden import FIXTURES
from tests.fixtures.loading import columns, copy_samples, rows, run, scalar, small_world
from tests.fixtures.sap_workbook import workbook_of
from warehouse.build import build_core, build_staging
from warehouse.engine import Engine, connect
from warehouse.reconcile.references import check_digit_references

README_ITEM_COLUMNS = (
    "entity company_code customer document_number fiscal_year line_item document_type document_date posting_date "
    "baseline_date terms_days_1 terms_days_2 terms_days_3 net_due_date currency amount amount_local debit_credit "
    "reference assignment clearing_document clearing_date text special_gl doc_status invoice_ref invoice_ref_year "
    "source_file line_no file_hash").split()
README_CUSTOMER_COLUMNS = ("entity customer name email vat_id payment_terms_days iban credit_limit country "
                           "account_owner source_file line_no").split()


def test_layouts_merge_quarantine_and_redrop(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    drop = copy_samples(FIXTURES / "sap_export", tmp_path / "DE01" / "sap_export", [
        "BSID_DE01_20250331.csv", "BSID_bad_rows.csv", "fbl5n_de_export.csv", "fbl5n_en_export.csv",
        "bsid_se16n_download.txt", "customers.csv"])
    _, stats = run(sap_export_source, drop, warehouse_config, "sap_export_DE01")
    # the same documents in four layouts: first file wins, the others' rows are run duplicates
    dup = scalar(warehouse_config, "SELECT count(*) FROM raw_quarantine WHERE reason LIKE 'same key%'")
    assert stats.files_loaded == 6 and stats.rows_quarantined == 6 + 1 + dup and dup == 2 + 1 + 2 + 2
    formats = dict(rows(warehouse_config, "SELECT file, format FROM raw_loaded_files"))
    assert formats["fbl5n_en_export.csv"] == "sap:fbl5n_en" and formats["bsid_se16n_download.txt"] == "sap:internal"
    # ... so each document is one row
    docs = rows(warehouse_config, "SELECT document_number, amount, debit_credit, net_due_date FROM raw_sap_export_items "
                "ORDER BY document_number")
    assert [(d[0], str(d[1]), d[2], d[3].isoformat()) for d in docs] == [
        ("0090000001", "1190.00", "S", "2025-02-14"), ("0090000002", "23800.50", "S", "2025-03-06"),
        ("0090000003", "-119.00", "H", "2025-01-25"), ("0090000010", "500.00", "S", "2025-03-03")]
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sap_export_customers") == 2
    assert set(README_ITEM_COLUMNS) <= set(columns(warehouse_config, "raw_sap_export_items"))
    assert set(README_CUSTOMER_COLUMNS) <= set(columns(warehouse_config, "raw_sap_export_customers"))

    _, again = run(sap_export_source, drop, warehouse_config, "sap_export_DE01")
    assert (again.files_loaded, again.files_skipped) == (0, 6)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sap_export_items") == 4


def test_cleared_extract_overwrites_open_item(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    src = FIXTURES / "sap_export"
    first = copy_samples(src, tmp_path / "a" / "DE01", ["bsid_se16n_download.txt"])
    run(sap_export_source, first, warehouse_config, "sap_export_DE01")
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sap_export_items WHERE clearing_document IS NULL") == 1
    second = copy_samples(src, tmp_path / "b" / "DE01", ["BSAD_DE01_20250331.csv"])
    run(sap_export_source, second, warehouse_config, "sap_export_DE01")
    cleared = rows(warehouse_config, "SELECT clearing_document, clearing_date FROM raw_sap_export_items "
                   "WHERE document_number = '0090000010'")
    assert [(c[0], c[1].isoformat()) for c in cleared] == [("0014000001", "2025-02-28")]


def test_unknown_layout_is_rejected_with_its_columns(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    drop = copy_samples(FIXTURES / "sap_export", tmp_path / "DE01", ["unknown_layout.csv"])
    with pytest.raises(PipelineStepFailed) as info:
        run(sap_export_source, drop, warehouse_config, "sap_export_DE01")
    assert "['Datum', 'Kunde', 'Betrag']" in str(info.value)
    assert any(isinstance(e, WrongFormat) for e in _chain(info.value))


def test_uk_folder_loads_and_a_wrong_file_is_rejected_alone(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """A UK drop: day-first CSV, a "text with tabs" list, an English comma-separated customer master,
    and one file of no known layout, which is rejected on its own while the others load."""
    drop = copy_samples(FIXTURES / "sap_export", tmp_path / "DE01" / "sap_export", [
        "fbl5n_en_gb_export.csv", "fbl5n_en_tabs_export.txt", "customers_en_comma.csv", "unknown_layout.csv"])
    _, stats = run(sap_export_source, drop, warehouse_config, "sap_export_DE01")
    assert (stats.files_loaded, stats.files_rejected, stats.rows_loaded) == (3, 1, 4 + 2 + 2)
    assert dict(rows(warehouse_config, "SELECT file, format FROM raw_loaded_files")) == {
        "fbl5n_en_gb_export.csv": "sap:fbl5n_en_gb", "fbl5n_en_tabs_export.txt": "sap:fbl5n_en_dotted",
        "customers_en_comma.csv": "sap_customers", "unknown_layout.csv": "rejected"}
    reason = rows(warehouse_config, "SELECT line, field, reason FROM raw_quarantine WHERE file = 'unknown_layout.csv'")
    assert len(reason) == 1 and reason[0][:2] == (0, None)
    assert "file rejected: expected a SAP line-item export" in reason[0][2] and "['Datum', 'Kunde', 'Betrag']" in reason[0][2]
    dates = rows(warehouse_config, "SELECT document_number, document_date, clearing_date FROM raw_sap_export_items "
                 "WHERE document_number IN ('1800000101', '0090000031') ORDER BY 1")
    assert [(d[0], d[1].isoformat(), d[2] and d[2].isoformat()) for d in dates] == [
        ("0090000031", "2025-03-05", None), ("1800000101", "2025-02-05", "2025-03-15")]
    assert rows(warehouse_config, "SELECT customer, credit_limit FROM raw_sap_export_customers ORDER BY 1") == [
        ("0001000003", scalar(warehouse_config, "SELECT CAST(50000 AS DECIMAL(18, 2))")),
        ("0001000009", scalar(warehouse_config, "SELECT CAST(100000 AS DECIMAL(18, 2))"))]

    # the rejected file is not remembered: it is rejected again (and loads once a layout is added)
    _, again = run(sap_export_source, drop, warehouse_config, "sap_export_DE01")
    assert (again.files_loaded, again.files_skipped, again.files_rejected) == (0, 3, 1)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_quarantine WHERE file = 'unknown_layout.csv'") == 1


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def test_sample_world_loads_clean(warehouse_config: WarehouseConfig) -> None:
    folder = small_world() / "DE01" / "sap_export"
    _, stats = run(sap_export_source, folder, warehouse_config, "sap_export_DE01")
    assert stats.rows_quarantined == 0 and stats.files_loaded == 3
    physical = sum(sum(1 for _ in p.open(encoding="utf-8-sig")) - 1 for p in folder.glob("BS*_DE01_*.csv"))
    items = scalar(warehouse_config, "SELECT count(*) FROM raw_sap_export_items")
    assert 0 < items <= physical  # BSAD rows supersede BSID rows of the same key
    with (small_world() / "ground_truth" / "invoices.csv").open(encoding="utf-8") as fh:
        invoices = {r["invoice_number"] for r in csv.DictReader(fh) if r["entity"] == "DE01"}
    loaded = {r[0] for r in rows(warehouse_config, "SELECT DISTINCT reference FROM raw_sap_export_items "
                                 "WHERE document_type IN ('RV', 'G2')")}
    assert loaded == invoices
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sap_export_customers WHERE entity = 'DE01'") == 40


def test_workbook_export_loads_like_its_text(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """FBL5N saved as .xlsx (typed dates and amounts) lands as the same rows as the text export."""
    drop = tmp_path / "DE01" / "sap_export"
    drop.mkdir(parents=True)
    workbook_of(FIXTURES / "sap_export" / "fbl5n_en_export.csv", drop / "FBL5N_DE01.xlsx")
    _, stats = run(sap_export_source, drop, warehouse_config, "sap_export_DE01")
    assert (stats.files_loaded, stats.rows_loaded, stats.rows_quarantined) == (1, 2, 0)
    assert dict(rows(warehouse_config, "SELECT file, format FROM raw_loaded_files")) == {"FBL5N_DE01.xlsx": "sap:fbl5n_en"}
    docs = rows(warehouse_config, "SELECT document_number, amount, net_due_date, source_file FROM raw_sap_export_items "
                "ORDER BY document_number")
    assert [(d[0], str(d[1]), d[2].isoformat(), d[3]) for d in docs] == [
        ("0090000002", "23800.50", "2025-03-06", "FBL5N_DE01.xlsx"), ("0090000003", "-119.00", "2025-01-25", "FBL5N_DE01.xlsx")]
    _, again = run(sap_export_source, drop, warehouse_config, "sap_export_DE01")
    assert (again.files_loaded, again.files_skipped) == (0, 1)


BSID_HEADER = "BUKRS;KUNNR;GJAHR;BELNR;BUZEI;BLART;BLDAT;BUDAT;ZFBDT;ZBD1T;ZBD2T;ZBD3T;WAERS;WRBTR;DMBTR;SHKZG;XBLNR;ZUONR;AUGBL;AUGDT;SGTXT"


@contextmanager
def _built_from(config: WarehouseConfig, tmp_path: Path, lines: list[str]) -> Iterator[Engine]:
    """BSID lines (technical layout) dropped, loaded and built into ``config``'s warehouse."""
    drop = tmp_path / "DE01" / "sap_export"
    drop.mkdir(parents=True)
    (drop / "BSID_DE01.csv").write_text("\n".join([BSID_HEADER, *lines]) + "\n", encoding="utf-8")
    run(sap_export_source, drop, config, "sap_export_DE01")
    with connect(config) as engine:
        build_core(engine, as_of=date(2025, 3, 31), report=build_staging(engine))
        yield engine


def test_a_sync_job_names_the_files_its_source_rejected(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """What the nightly flow reads to end a run failed when a file was rejected (flows/steps.py): the
    job built from the sources file reports which of its files were not in a SAP format."""
    from connectors.registry import SourcesConfig, SourceSettings, build_job
    from warehouse.load import run_pipeline

    drop = copy_samples(FIXTURES / "sap_export", tmp_path / "DE01" / "sap_export",
                        ["fbl5n_de_export.csv", "unknown_layout.csv"])
    config = SourcesConfig(entities={"DE01": {"sap_export": SourceSettings(path=str(drop))}})
    job = build_job(config, "DE01", "sap_export")
    assert job.rejected_files == []
    run_pipeline(job.pipeline_name, job.dlt_source, warehouse_config)
    assert job.rejected_files == ["unknown_layout.csv"]


def test_a_residual_item_left_by_a_partial_payment_continues_its_invoice(warehouse_config: WarehouseConfig,
                                                                        tmp_path: Path) -> None:
    """Invoice RE-20 (1,000) cleared by payment document 14...20, which received 950 and posted the 50
    still owed as a new debit line under the same XBLNR (residual item, open). The invoice stays the
    document owed, with SAP's open 50 (the residual item folded in): one RE-20, not two, so the bank's
    950 naming RE-20 pays it partially. The receipt is the payment's credit line. A residual item whose
    payment document cleared no invoice of that customer stays a document of its own (RE-30)."""
    with _built_from(warehouse_config, tmp_path, [
        "DE01;0001000003;2025;0090000020;001;RV;01.02.2025;01.02.2025;01.02.2025;0;0;30;EUR;1000,00;1000,00;S;RE-20;;0014000020;28.02.2025;Rechnung",
        "DE01;0001000003;2025;0014000020;001;DZ;28.02.2025;28.02.2025;28.02.2025;0;0;0;EUR;1000,00;1000,00;H;RE-20;;0014000020;28.02.2025;Zahlung",
        "DE01;0001000003;2025;0014000020;002;DZ;28.02.2025;28.02.2025;28.02.2025;0;0;0;EUR;50,00;50,00;S;RE-20;;;;Restposten",
        "DE01;0001000003;2025;0014000030;001;DZ;28.02.2025;28.02.2025;28.02.2025;0;0;0;EUR;70,00;70,00;S;RE-30;;;;Restposten",
    ]) as engine:
        invoices = engine.query("SELECT invoice_id, invoice_number, doc_type, amount_total, erp_amount_open "
                                "FROM int_invoices ORDER BY invoice_id")
        receipts = engine.query("SELECT payment_id, amount FROM fct_payment WHERE channel = 'erp'")
    assert [(i, n, d, str(a), str(o)) for i, n, d, a, o in invoices] == [
        ("2025-0014000030", "RE-30", "invoice", "70.00", "70.00"),
        ("2025-0090000020", "RE-20", "invoice", "1000.00", "50.00")]
    assert [(p, str(a)) for p, a in receipts] == [("SAP-2025-0014000020-1", "1000.00")]


def test_an_invoice_keeps_its_document_number_and_a_unique_assignment_as_other_numbers(
        warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """XBLNR holds the customer's order on 90012078: its document number is another number payers quote,
    as is the QR reference in its assignment. An assignment shared by documents (the customer number,
    SAP's default) or a date is none; a document printed with its own number needs no alias."""
    with _built_from(warehouse_config, tmp_path, [
        "DE01;0001000003;2025;0090012078;001;RV;01.02.2025;01.02.2025;01.02.2025;0;0;30;EUR;908,65;908,65;S;4500065326;000000000001001459001200947;;;Rechnung",
        "DE01;0001000003;2025;0090012079;001;RV;01.02.2025;01.02.2025;01.02.2025;0;0;30;EUR;100,00;100,00;S;;0001000003;;;Rechnung",
        "DE01;0001000003;2025;0090012080;001;RV;01.02.2025;01.02.2025;01.02.2025;0;0;30;EUR;100,00;100,00;S;RE-80;0001000003;;;Rechnung",
        "DE01;0001000003;2025;0090012081;001;RV;01.02.2025;01.02.2025;01.02.2025;0;0;30;EUR;100,00;100,00;S;;20250201;;;Rechnung",
    ]) as engine:
        aliases = set(engine.query("SELECT invoice_id, alias FROM int_invoice_aliases"))
        numbers = engine.query("SELECT invoice_id, invoice_number FROM int_invoices")
    erp = {("2025-0090012078", "000000000001001459001200947"), ("2025-0090012078", "90012078"),
           ("2025-0090012080", "90012080")}
    # and, for every all-digit number of a document, the references a Nordic payer would quote for it
    nordic = {(doc, ref) for doc, number in [*numbers, *erp] for ref in check_digit_references(number)}
    assert aliases == erp | nordic


def test_a_reversed_payment_is_neither_owed_nor_received(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """A direct debit of RE-8 came back (AM04): SAP reversed the collection (ZP 2000000010) with document
    100000005, which clears the collection and itself, and RE-8 is open again. The reversal is owed by
    nobody and the collection received nothing: RE-8 is the only document, and there is no ERP receipt."""
    with _built_from(warehouse_config, tmp_path, [
        "DE01;0001000007;2025;0090000008;001;RV;01.03.2025;01.03.2025;01.03.2025;0;0;14;EUR;2340,06;2340,06;S;RE-8;;;;Rechnung",
        "DE01;0001000007;2025;2000000010;001;ZP;20.03.2025;20.03.2025;20.03.2025;0;0;0;EUR;2340,06;2340,06;H;;;0100000005;24.03.2025;Lastschrift",
        "DE01;0001000007;2025;0100000005;001;AB;24.03.2025;24.03.2025;24.03.2025;0;0;0;EUR;2340,06;2340,06;S;;;0100000005;24.03.2025;Storno Rücklastschrift AM04",
        # the same, the reversal posted as a payment document (DZ) of its own
        "DE01;0001000008;2025;0090000009;001;RV;01.03.2025;01.03.2025;01.03.2025;0;0;14;EUR;302,26;302,26;S;RE-9;;;;Rechnung",
        "DE01;0001000008;2025;2000000080;001;DZ;20.03.2025;20.03.2025;20.03.2025;0;0;0;EUR;302,26;302,26;H;;;1400000326;26.03.2025;Lastschrift",
        "DE01;0001000008;2025;1400000326;001;DZ;26.03.2025;26.03.2025;26.03.2025;0;0;0;EUR;302,26;302,26;S;;;1400000326;26.03.2025;Storno 2000000080 Rücklastschrift",
    ]) as engine:
        invoices = engine.query("SELECT invoice_number, amount_total, erp_amount_open FROM int_invoices")
        receipts = engine.query("SELECT payment_id FROM fct_payment WHERE channel = 'erp'")
    assert sorted((n, str(a), str(o)) for n, a, o in invoices) == [
        ("RE-8", "2340.06", "2340.06"), ("RE-9", "302.26", "302.26")]
    assert receipts == []


def test_a_credit_memo_naming_its_invoice_in_xblnr_is_printed_with_its_own_number(
        warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    """DG 1700000052 carries XBLNR 90012167, the invoice it credits: its printed number is its own
    document number, so a remittance "INV 90012167 LESS CN 1700000052" names both documents."""
    with _built_from(warehouse_config, tmp_path, [
        "DE01;0001000003;2025;0090012167;001;RV;01.02.2025;01.02.2025;01.02.2025;0;0;30;EUR;8428,65;8428,65;S;90012167;;;;Rechnung",
        "DE01;0001000003;2025;1700000052;001;DG;05.02.2025;05.02.2025;05.02.2025;0;0;0;EUR;136,38;136,38;H;90012167;;;;Gutschrift",
        "DE01;0001000003;2025;1700000053;001;DG;06.02.2025;06.02.2025;06.02.2025;0;0;0;EUR;50,00;50,00;H;GS-2025-7;;;;Gutschrift",
    ]) as engine:
        numbers = dict(engine.query("SELECT invoice_id, invoice_number FROM int_invoices"))
    assert numbers == {"2025-0090012167": "90012167", "2025-1700000052": "1700000052", "2025-1700000053": "GS-2025-7"}
