"""A payment in another currency than the account's, on DuckDB and Postgres.

A customer pays a USD invoice into a EUR account: the bank books EUR at its rate and keeps the USD the
payer instructed (camt ``AmtDtls/InstdAmt``). The invoice owes USD, so the payment is matched in USD when
the entity invoices in USD (SAP keeps the document currency); an entity whose invoices are all in the
account's currency keeps the booked amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import dlt

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline
from warehouse.reconcile import reconcile

from .raw_book import BANK, load_raw_book

AS_OF = date(2025, 3, 1)


def _bank_line(line_id: str, entity: str, booked: str, instructed: str, remittance: str) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "entity": entity, "amount": Decimal(booked), "currency": "EUR",
            "instructed_amount": Decimal(instructed), "instructed_currency": "USD", "exchange_rate": "0.9214",
            "counterparty_name": "GLOBEX CORP", "counterparty_iban": "US00GLOBEX", "remittance_unstructured": remittance}


SAP_INVOICE = {
    # a USD invoice of a German company: document currency USD (WRBTR), local EUR (DMBTR)
    "entity": "DE01", "company_code": "1000", "customer": "K100", "document_number": "1800000042",
    "fiscal_year": "2025", "line_item": "001", "document_type": "DR", "document_date": date(2025, 1, 15),
    "posting_date": date(2025, 1, 15), "baseline_date": date(2025, 1, 15), "terms_days_1": 30, "terms_days_2": None,
    "terms_days_3": None, "net_due_date": date(2025, 2, 14), "currency": "USD", "amount": Decimal("1000.00"),
    "amount_local": Decimal("925.00"), "debit_credit": "S", "reference": "INV-2025-0042", "assignment": "",
    "clearing_document": "", "clearing_date": None, "text": "", "source_file": "FBL5N.txt", "line_no": 2,
    "file_hash": "h",
}


def test_a_usd_payment_into_a_eur_account_settles_its_usd_invoice(warehouse_config: WarehouseConfig) -> None:
    load_raw_book(warehouse_config, more_bank_lines=(
        _bank_line("FX-DE", "DE01", "921.40", "1000.00", "INVOICE INV-2025-0042"),
        # FR01 invoices in EUR only (its FEC): the booked EUR is what its books can match
        _bank_line("FX-FR", "FR01", "921.40", "1000.00", "FACTURE FA-2025-000001"),
    ))
    sap = dlt.resource([SAP_INVOICE], name="raw_sap_export_items", write_disposition="replace",
                       columns={"terms_days_2": {"data_type": "bigint"}, "terms_days_3": {"data_type": "bigint"},
                                "clearing_date": {"data_type": "date"}})
    run_pipeline("test_fx_sap", [sap], warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=AS_OF, report=build_staging(engine))
        reconcile(engine, as_of=AS_OF)
        payments = {r["payment_id"]: r for r in engine.query_dicts(
            "SELECT payment_id, amount, currency FROM fct_payment WHERE payment_id LIKE 'FX-%'")}
        lines = {r["bank_line_id"]: r for r in engine.query_dicts(
            "SELECT bank_line_id, amount, currency, instructed_amount, instructed_currency FROM fct_bank_line "
            "WHERE bank_line_id LIKE 'FX-%'")}
        match = engine.query_dicts("SELECT invoice_id, amount_applied, currency, rule, state FROM fct_match "
                                   "WHERE payment_id = 'FX-DE'")
        invoice = engine.query_dicts("SELECT amount_open, status FROM fct_invoice WHERE entity = 'DE01'")

    assert (payments["FX-DE"]["amount"], payments["FX-DE"]["currency"]) == (Decimal("1000.00"), "USD")
    assert (payments["FX-FR"]["amount"], payments["FX-FR"]["currency"]) == (Decimal("921.40"), "EUR")
    # the statement keeps both: what was booked and what was instructed
    assert (lines["FX-DE"]["amount"], lines["FX-DE"]["currency"], lines["FX-DE"]["instructed_amount"],
            lines["FX-DE"]["instructed_currency"]) == (Decimal("921.40"), "EUR", Decimal("1000.00"), "USD")
    assert [(m["amount_applied"], m["currency"], m["state"]) for m in match] == [(Decimal("1000.00"), "USD", "auto")]
    assert [(i["amount_open"], i["status"]) for i in invoice] == [(Decimal("0.00"), "paid")]
