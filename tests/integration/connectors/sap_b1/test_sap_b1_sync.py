"""SAP B1 Service Layer connector against the sandbox: login, session expiry and re-login, paging, faults."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import pytest

from connectors.sap_b1 import B1Client, sap_b1_source
from lettrage.config import WarehouseConfig
from lettrage.errors import AuthenticationExpired
from sandbox.server import RunningSandbox
from tests.fixtures.loading import columns, rows, scalar
from tests.integration.connectors.sage_accounting.erp_world import (
    FAST_RETRIES,
    append_jsonl,
    configure,
    credentials,
    first_jsonl,
    ground_truth,
    root_cause,
    served,
)
from warehouse.build import build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline

ENTITY = "ES01"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    yield from served(tmp_path / "world", ENTITY)


def _source(sandbox: RunningSandbox, **kwargs: Any) -> dlt.sources.DltSource:
    creds = credentials(sandbox.state.root, ENTITY, "sap_b1")
    creds.update({k: kwargs.pop(k) for k in list(kwargs) if k in creds})
    return sap_b1_source(ENTITY, base_url=sandbox.url, retry_policy=FAST_RETRIES, **creds, **kwargs)


def test_full_sync_and_staging(sandbox: RunningSandbox, warehouse_config: WarehouseConfig) -> None:
    run_pipeline("b1_es01", _source(sandbox, page_size=9), warehouse_config)
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sap_b1_business_partners") == 20
    assert scalar(warehouse_config, "SELECT count(*) FROM raw_sap_b1_payment_invoices") > 0
    with connect(warehouse_config) as engine:
        build_staging(engine)
    count, total = ground_truth(sandbox.state.root, ENTITY)
    got = rows(warehouse_config, "SELECT count(*), sum(amount_total), min(currency) FROM stg_sap_b1__invoices")
    assert got[0][0] == count and Decimal(got[0][1]) == total and got[0][2] == "EUR"
    assert scalar(warehouse_config, "SELECT count(*) FROM stg_sap_b1__invoices WHERE erp_lettrage LIKE 'PAY-%'") > 0
    assert scalar(warehouse_config, "SELECT count(*) FROM stg_sap_b1__payments WHERE erp_lettrage LIKE 'INV-%'") > 0


def test_expired_session_logs_in_again_mid_sync(sandbox: RunningSandbox) -> None:
    c = credentials(sandbox.state.root, ENTITY, "sap_b1")
    client = B1Client(sandbox.url, c["company_db"], c["user"], c["password"], policy=FAST_RETRIES, page_size=10)
    pages = client.pages("Invoices", None)
    first = next(pages)
    configure(sandbox, "/b1s", expire_all=True)  # every session now answers 401 code 301
    rest = [row for page in pages for row in page]
    assert len(first) + len(rest) == 68 and client.auth.logins == 2
    client.close()


def test_short_session_timeout_is_survived(sandbox: RunningSandbox, tmp_path: Path) -> None:
    configure(sandbox, "/b1s", session_timeout_s=0.05)
    sandbox.faults.set(provider="sap_b1", rate_limit=1, retry_after=0.1, server_error=1)
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    run_pipeline("b1_timeout", _source(sandbox, page_size=50), config)
    assert scalar(config, "SELECT count(*) FROM raw_sap_b1_invoices") == 68
    assert sandbox.faults.snapshot()["injected"]["rate_limit"] == 1


def test_refused_login_is_a_clear_error_and_saves_nothing(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    with pytest.raises(Exception) as info:
        run_pipeline("b1_bad", _source(sandbox, password="expired"), config)
    cause = root_cause(info.value)
    assert isinstance(cause, AuthenticationExpired) and "SBO_ES01" in str(cause)
    assert "[sources.sap_b1.ES01] company_db/user/password" in str(cause)  # (the entity's own section to fix)
    with connect(config) as engine:
        assert not engine.table_exists("raw_sap_b1_invoices")


def test_second_sync_reads_only_changes(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    run_pipeline("b1_incr", _source(sandbox), config)
    path = sandbox.state.root / ENTITY / "sap_b1" / "Invoices.jsonl"
    inv = first_jsonl(path)
    inv.update(PaidToDate=inv["DocTotal"], DocumentStatus="bost_Close", UpdateDate="2025-07-01T00:00:00Z",
               UpdateTime="10:00:00")
    append_jsonl(path, inv)
    again = run_pipeline("b1_incr", _source(sandbox), config)
    assert again.rows.get("raw_sap_b1_invoices") == 1 and "raw_sap_b1_business_partners" not in again.rows
    assert scalar(config, f"SELECT document_status FROM raw_sap_b1_invoices WHERE doc_entry = {inv['DocEntry']}") \
        == "bost_Close"


def test_an_invoice_with_an_unreadable_value_is_quarantined_not_a_variant_column(sandbox: RunningSandbox,
                                                                                 tmp_path: Path) -> None:
    """DocDate 31/10/2025 and DocTotal "2,005.62" used to load into dlt variant columns (doc_date__v_text),
    leaving doc_date NULL in silence: the invoice is quarantined instead and the others load."""
    path = sandbox.state.root / ENTITY / "sap_b1" / "Invoices.jsonl"
    inv = first_jsonl(path)
    append_jsonl(path, {**inv, "DocDate": "31/10/2025", "DocTotal": "2,005.62"})
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    result = run_pipeline("b1_quarantine", _source(sandbox, page_size=9), config)
    assert result.rows.get("raw_quarantine") == 2
    assert scalar(config, f"SELECT count(*) FROM raw_sap_b1_invoices WHERE doc_entry = {inv['DocEntry']}") == 0
    assert scalar(config, "SELECT count(*) FROM raw_sap_b1_invoices") > 0
    assert "doc_date__v_text" not in columns(config, "raw_sap_b1_invoices")
    got = rows(config, "SELECT file, field, reason, source_system, entity FROM raw_quarantine ORDER BY field")
    name = f"invoice {inv['DocEntry']} (DocNum {inv['DocNum']})"
    assert [(r[0], r[1], r[3], r[4]) for r in got] == [(name, "DocDate", "sap_b1", ENTITY),
                                                       (name, "DocTotal", "sap_b1", ENTITY)]
    assert "'31/10/2025'" in got[0][2] and "'2,005.62'" in got[1][2]


def test_a_down_payment_invoice_is_owed_until_the_receipt_of_it_pays_it(sandbox: RunningSandbox,
                                                                        warehouse_config: WarehouseConfig) -> None:
    """An A/R down payment invoice (DownPayments, DocEntry numbered apart from Invoices: DocEntry 1 of both) and the
    incoming payment whose PaymentInvoices line of type it_DownPayment pays it: the down payment is a document owed
    ('DPI-1', its DocNum the number payers quote), the receipt lists it, and what it applied is the receipt's."""
    world = sandbox.state.root / ENTITY / "sap_b1"
    invoice = first_jsonl(world / "Invoices.jsonl")
    append_jsonl(world / "DownPayments.jsonl", {
        **invoice, "DocEntry": 1, "DocNum": 268001, "Reference1": "268001", "DocTotal": 3000.0, "VatSum": 520.66,
        "PaidToDate": 3000.0, "DocumentStatus": "bost_Close", "DownPaymentType": "dptInvoice",
        "DocumentLines": [{"LineNum": 0, "ItemDescription": "Anticipo", "LineTotal": 2479.34, "BaseType": -1,
                           "BaseEntry": None}]})
    append_jsonl(world / "IncomingPayments.jsonl", {
        **first_jsonl(world / "IncomingPayments.jsonl"), "DocEntry": 9001, "DocNum": 9001, "TransferSum": 3000.0,
        "CardCode": invoice["CardCode"], "TransferReference": "ANTICIPO 268001", "Remarks": "ANTICIPO 268001",
        "OpenBalance": 0.0, "PaymentInvoices": [{"LineNum": 0, "DocEntry": 1, "SumApplied": 3000.0,
                                                  "AppliedFC": 0.0, "InvoiceType": "it_DownPayment"}]})
    run_pipeline("b1_es01_dp", _source(sandbox), warehouse_config)
    with connect(warehouse_config) as engine:
        build_staging(engine)
    assert rows(warehouse_config, "SELECT invoice_id, invoice_number, doc_type, amount_total, erp_amount_open, "
                                  "erp_lettrage FROM stg_sap_b1__invoices WHERE invoice_id LIKE 'DPI-%'") == [
        ("DPI-1", "268001", "invoice", Decimal("3000.00"), Decimal("0.00"), "PAY-9001")]
    assert rows(warehouse_config, "SELECT erp_lettrage FROM stg_sap_b1__payments WHERE payment_id = 'B1-PAY-9001'") \
        == [("DPI-1",)]
    assert rows(warehouse_config, "SELECT invoice_id, amount FROM stg_sap_b1__applications "
                                  "WHERE payment_id = 'B1-PAY-9001'") == [("DPI-1", Decimal("3000.00"))]
    # (the invoice of DocEntry 1 is not the down payment's: neither lists the other's receipt)
    assert "PAY-9001" not in (scalar(warehouse_config, "SELECT erp_lettrage FROM stg_sap_b1__invoices "
                                                       "WHERE invoice_id = 'INV-1'") or "")


def test_outgoing_payments_to_customers_are_read_as_refunds(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """A credit memo paid back by an outgoing payment to the customer (VendorPayments, DocType rCustomer) is read
    with its PaymentInvoices line and staged as money paid back; a payment to a supplier is not read."""
    config = WarehouseConfig(url=f"duckdb:///{tmp_path / 'wh.duckdb'}")
    root = sandbox.state.root / ENTITY / "sap_b1"
    memo = first_jsonl(root / "CreditNotes.jsonl")
    base = {"DocDate": "2026-03-20T00:00:00Z", "DocCurrency": memo["DocCurrency"], "Cancelled": "tNO",
            "UpdateDate": "2026-03-20T00:00:00Z", "UpdateTime": "09:00:00"}
    append_jsonl(root / "VendorPayments.jsonl", {
        **base, "DocEntry": 7001, "DocNum": 7001, "DocType": "rCustomer", "CardCode": memo["CardCode"],
        "TransferSum": memo["DocTotal"], "PaymentInvoices": [
            {"LineNum": 0, "DocEntry": memo["DocEntry"], "SumApplied": memo["DocTotal"], "AppliedFC": 0,
             "InvoiceType": "it_CredItnote"}]})
    append_jsonl(root / "VendorPayments.jsonl", {
        **base, "DocEntry": 7002, "DocNum": 7002, "DocType": "rSupplier", "CardCode": "V100", "TransferSum": 310.0,
        "PaymentInvoices": []})
    run_pipeline("b1_refunds", _source(sandbox), config)
    assert rows(config, "SELECT doc_entry, doc_type FROM raw_sap_b1_outgoing_payments") == [(7001, "rCustomer")]
    assert rows(config, "SELECT doc_entry, invoice_type FROM raw_sap_b1_outgoing_payment_invoices") == [
        (memo["DocEntry"], "it_CredItnote")]
    with connect(config) as engine:
        build_staging(engine)
        staged = engine.query("SELECT amount, erp_lettrage FROM stg_sap_b1__payments WHERE source_id = 'OUT-7001'")
    assert staged == [(-Decimal(str(memo["DocTotal"])), f"CN-{memo['DocEntry']}")]
