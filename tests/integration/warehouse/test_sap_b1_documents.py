"""SAP Business One documents as the Service Layer sends them, read into the canonical model (DuckDB, Postgres).

B1 keeps DocTotal and PaidToDate in the company's currency and a foreign document's own amounts in
DocTotalFc and PaidToDateFC; cancelling an invoice adds a cancellation document (CancelStatus
csCancellation) beside the original (Cancelled tYES); a receipt is paid by transfer, cash, cheques and
cards at once; a credit memo names its base invoice on its lines; '##' is "all currencies".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import dlt

from connectors.sap_b1 import COLUMNS, to_row
from lettrage.config import WarehouseConfig
from warehouse.build import build_staging
from warehouse.engine import connect
from warehouse.load import run_pipeline

D = Decimal


def _doc(entry: int, card: str, currency: str, total: str, paid: str, total_fc: str = "0", paid_fc: str = "0",
         **more: Any) -> dict[str, Any]:
    return {"DocEntry": entry, "DocNum": 26000000 + entry, "DocDate": "2026-03-02T00:00:00Z",
            "DocDueDate": "2026-04-01T00:00:00Z", "CardCode": card, "CardName": card, "NumAtCard": None,
            "DocCurrency": currency, "DocRate": 1.0 if currency == "EUR" else 1.0883, "DocTotal": D(total),
            "DocTotalFc": D(total_fc), "PaidToDate": D(paid), "PaidToDateFC": D(paid_fc), "VatSum": D("0"),
            "DocumentStatus": "bost_Open", "Cancelled": "tNO", "CancelStatus": "csNo",
            "UpdateDate": "2026-03-02T00:00:00Z", "UpdateTime": "10:00:00", **more}


INVOICES = [
    _doc(1, "C1", "EUR", "1210.00", "0"),
    # a USD invoice: 1,000.00 USD, 918.87 EUR in the books; half paid in USD
    _doc(2, "C2", "USD", "918.87", "459.44", total_fc="1000.00", paid_fc="500.00"),
    # cancelled: the original and the cancellation document B1 adds
    _doc(3, "C1", "EUR", "500.00", "0", Cancelled="tYES", CancelStatus="csYes"),
    _doc(4, "C1", "EUR", "500.00", "500.00", CancelStatus="csCancellation", DocumentStatus="bost_Close"),
]
CREDIT_NOTES = [
    _doc(1, "C1", "EUR", "121.00", "0", DocumentLines=[{"LineNum": 0, "BaseType": 13, "BaseEntry": 1}]),
]
PAYMENTS = [
    {"DocEntry": 1, "DocNum": 1, "DocDate": "2026-03-20T00:00:00Z", "CardCode": "C1", "CardName": "C1",
     "DocCurrency": "EUR", "CashSum": D("50.00"), "TransferSum": D("0"), "TransferDate": None,
     "PaymentChecks": [{"CheckNumber": 7, "CheckSum": D("1039.00")}], "PaymentCreditCards": [],
     "Cancelled": "tNO", "UpdateDate": "2026-03-20T00:00:00Z", "UpdateTime": "09:00:00",
     "PaymentInvoices": [{"LineNum": 0, "DocEntry": 1, "SumApplied": D("1089.00"), "InvoiceType": "it_Invoice"}]},
]
PARTNERS = [
    {"CardCode": "C1", "CardName": "Construcciones Ruiz SL", "CardType": "cCustomer", "Currency": "##",
     "DefaultAccount": "1", "BPBankAccounts": [{"AccountNo": "1", "IBAN": "ES91 2100 0418 4502 0005 1332"}],
     "UpdateDate": "2026-01-02T00:00:00Z"},
    {"CardCode": "C2", "CardName": "Globex Corp", "CardType": "cCustomer", "Currency": "USD", "BPBankAccounts": [],
     "UpdateDate": "2026-01-02T00:00:00Z"},
]


def _load(config: WarehouseConfig) -> None:
    def resource(name: str, objects: list[dict[str, Any]]) -> Any:
        rows = [to_row(o, "ES01") for o in objects]
        return dlt.resource(rows, name=name, table_name=f"raw_sap_b1_{name}", write_disposition="replace",
                            columns=COLUMNS[name])

    run_pipeline("test_b1_documents", [resource("invoices", INVOICES), resource("credit_notes", CREDIT_NOTES),
                                       resource("incoming_payments", PAYMENTS),
                                       resource("business_partners", PARTNERS)], config)


def test_b1_documents_read_as_the_customer_owes_them(warehouse_config: WarehouseConfig) -> None:
    _load(warehouse_config)
    with connect(warehouse_config) as engine:
        build_staging(engine)
        invoices = {r["invoice_id"]: r for r in engine.query_dicts(
            "SELECT invoice_id, currency, amount_total, erp_amount_open, erp_lettrage FROM stg_sap_b1__invoices")}
        payments = engine.query_dicts("SELECT payment_id, amount, currency FROM stg_sap_b1__payments")
        customers = {r["customer_id"]: r for r in engine.query_dicts(
            "SELECT customer_id, iban, currency FROM stg_sap_b1__customers")}

    # the cancelled invoice and its cancellation document are gone; the USD one is owed in USD
    assert set(invoices) == {"INV-1", "INV-2", "CN-1"}
    assert (invoices["INV-2"]["currency"], invoices["INV-2"]["amount_total"], invoices["INV-2"]["erp_amount_open"]) \
        == ("USD", D("1000.00"), D("500.00"))
    # the credit memo's base invoice, from its lines, links the two as B1's own lettrage
    assert invoices["CN-1"]["erp_lettrage"] == invoices["INV-1"]["erp_lettrage"] == "CN-1"
    # cash and a cheque: the whole receipt
    assert [(p["payment_id"], p["amount"], p["currency"]) for p in payments] == [("B1-PAY-1", D("1089.00"), "EUR")]
    assert (customers["C1"]["iban"], customers["C1"]["currency"]) == ("ES9121000418450200051332", None)
    assert (customers["C2"]["iban"], customers["C2"]["currency"]) == (None, "USD")


def test_a_receipt_in_a_currency_no_statement_shows_settles_on_the_erp_s_word(warehouse_config: WarehouseConfig) -> None:
    """B1 lists the receipts that settled each invoice. Lettrage loads the EUR account's statements only:
    a USD receipt (paid into a USD account) can never show there, so B1's word settles its invoice, in part
    when B1 still shows some open; a EUR receipt within the statements' period without its bank line stays a
    disagreement for a person."""
    from datetime import date

    from tests.integration.warehouse.raw_book import BANK, _hints_for_empty_columns
    from warehouse.build import build_core
    from warehouse.reconcile import reconcile

    invoices = [_doc(5, "C2", "USD", "918.87", "918.87", total_fc="1000.00", paid_fc="1000.00"),
                _doc(6, "C1", "EUR", "800.00", "800.00"),
                # paid in part in USD: 600.00 of 1,000.00, 400.00 still open in B1
                _doc(7, "C2", "USD", "918.87", "551.32", total_fc="1000.00", paid_fc="600.00"),
                # paid in GBP, which the bank converted into the EUR account: the statement shows it
                _doc(8, "C2", "GBP", "580.00", "580.00", total_fc="500.00", paid_fc="500.00")]
    payments = [{"DocEntry": n, "DocNum": n, "DocDate": "2026-03-15T00:00:00Z", "CardCode": card, "CardName": card,
                 "DocCurrency": cur, "TransferSum": D(amount), "Cancelled": "tNO", "UpdateDate": "2026-03-15T00:00:00Z"}
                for n, card, cur, amount in ((2, "C2", "USD", "1000.00"), (3, "C1", "EUR", "800.00"),
                                             (4, "C2", "USD", "600.00"), (5, "C2", "GBP", "500.00"))]
    # (SumApplied in the company's euros, AppliedFC in the document's currency, 0 for a euro document)
    lines = [{"PaymentDocEntry": n, "LineNum": 0, "entity": "ES01", "DocEntry": inv, "SumApplied": D(a),
              "AppliedFC": D(fc), "InvoiceType": "it_Invoice", "CardCode": c, "PaymentDate": "2026-03-15"}
             for n, inv, a, fc, c in ((2, 5, "918.87", "1000.00", "C2"), (3, 6, "800.00", "0", "C1"),
                                      (4, 7, "551.32", "600.00", "C2"), (5, 8, "580.00", "500.00", "C2"))]
    bank = [{**BANK[0], "entity": "ES01", "bank_line_id": "ES-B1", "booking_date": date(2026, 3, 1),
             "value_date": date(2026, 3, 1), "amount": D("50.00"), "remittance_unstructured": "INTERESES",
             "instructed_amount": None, "instructed_currency": None},
            {**BANK[0], "entity": "ES01", "bank_line_id": "ES-B2", "booking_date": date(2026, 3, 16),
             "value_date": date(2026, 3, 16), "amount": D("579.10"), "remittance_unstructured": "INVOICE 26000008",
             "counterparty_name": "GLOBEX UK", "instructed_amount": D("500.00"), "instructed_currency": "GBP"}]

    def resource(name: str, rows: list[dict[str, Any]], table: str | None = None) -> Any:
        return dlt.resource(rows, name=name, table_name=table or f"raw_sap_b1_{name}", write_disposition="replace",
                            columns=COLUMNS.get(name) or _hints_for_empty_columns(rows))

    run_pipeline("test_b1_settled", [
        resource("invoices", [to_row(o, "ES01") for o in invoices]),
        resource("incoming_payments", [to_row(o, "ES01") for o in payments]),
        resource("payment_invoices", lines),
        resource("business_partners", [to_row(o, "ES01") for o in PARTNERS]),
        resource("camt", bank, table="raw_camt053_entries"),
    ], warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=date(2026, 4, 30), report=build_staging(engine))
        settled = {r["invoice_id"]: r["payment_id"] for r in engine.query_dicts(
            "SELECT invoice_id, payment_id FROM int_erp_settlements")}
        reconcile(engine, as_of=date(2026, 4, 30))
        state = {r["invoice_id"]: (r["status"], r["amount_open"]) for r in engine.query_dicts(
            "SELECT invoice_id, status, amount_open FROM fct_invoice WHERE entity = 'ES01'")}
        explained = engine.query("SELECT rule, explanation FROM fct_match WHERE invoice_id = 'INV-5'")
        gbp = engine.query("SELECT payment_id, rule, amount_applied FROM fct_match WHERE invoice_id = 'INV-8'")
        kinds = {r[0]: r[1] for r in engine.query(
            "SELECT invoice_id, kind FROM fct_reconciliation_exception WHERE resolved_at IS NULL AND invoice_id IS NOT NULL")}

    assert settled == {"INV-5": "B1-PAY-2", "INV-6": "B1-PAY-3", "INV-7": "B1-PAY-4", "INV-8": "B1-PAY-5"}
    assert state["INV-5"] == ("paid", D("0.00")) and state["INV-6"][1] == D("800.00")
    assert state["INV-7"] == ("partially_paid", D("400.00"))  # what B1 still shows open stays owed
    assert explained[0][0] == "erp_lettrage" and "in USD, which no bank statement or provider loaded shows" in explained[0][1]
    assert kinds.get("INV-6") == "erp_disagreement" and "INV-5" not in kinds
    # GBP shows on the statement (instructed on a EUR line): the bank line is the evidence, not B1's word
    assert gbp == [("ES-B2", "exact_reference", D("500.00"))] and state["INV-8"] == ("paid", D("0.00"))


def test_each_receipt_b1_applied_settles_its_own_part(warehouse_config: WarehouseConfig) -> None:
    """Two USD receipts close INV-9 (400.00 and 600.00 of 1,000.00); INV-10 (1,000.00 USD) is closed in B1 by a
    receipt applying 980.00: each receipt is matched for what B1 says it applied, and the 20.00 B1 wrote off
    closes INV-10 on B1's word (within erp_settled_pct), not as money received."""
    from datetime import date

    from warehouse.build import build_core
    from warehouse.reconcile import reconcile

    invoices = [_doc(9, "C2", "USD", "918.87", "918.87", total_fc="1000.00", paid_fc="1000.00"),
                _doc(10, "C2", "USD", "918.87", "918.87", total_fc="1000.00", paid_fc="1000.00")]
    payments = [{"DocEntry": n, "DocNum": n, "DocDate": f"2026-03-{day}T00:00:00Z", "CardCode": "C2", "CardName": "C2",
                 "DocCurrency": "USD", "TransferSum": D(amount), "Cancelled": "tNO",
                 "UpdateDate": "2026-03-20T00:00:00Z"}
                for n, day, amount in ((6, "10", "400.00"), (7, "20", "600.00"), (8, "25", "980.00"))]
    lines = [{"PaymentDocEntry": n, "LineNum": 0, "entity": "ES01", "DocEntry": inv, "SumApplied": D(local),
              "AppliedFC": D(fc), "InvoiceType": "it_Invoice", "CardCode": "C2", "PaymentDate": "2026-03-20"}
             for n, inv, local, fc in ((6, 9, "367.55", "400.00"), (7, 9, "551.32", "600.00"),
                                       (8, 10, "900.49", "980.00"))]

    def resource(name: str, rows: list[dict[str, Any]]) -> Any:
        return dlt.resource(rows, name=name, table_name=f"raw_sap_b1_{name}", write_disposition="replace",
                            columns=COLUMNS[name])

    run_pipeline("test_b1_applied", [
        resource("invoices", [to_row(o, "ES01") for o in invoices]),
        resource("incoming_payments", [to_row(o, "ES01") for o in payments]),
        resource("payment_invoices", lines),
        resource("business_partners", [to_row(o, "ES01") for o in PARTNERS]),
    ], warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=date(2026, 4, 30), report=build_staging(engine))
        reconcile(engine, as_of=date(2026, 4, 30))
        matches = set(engine.query("SELECT payment_id, invoice_id, amount_applied, adjustment FROM fct_match"))
        state = dict(engine.query("SELECT invoice_id, amount_open FROM fct_invoice WHERE entity = 'ES01'"))
        reconcile(engine, as_of=date(2026, 4, 30), incremental=True)
        again = set(engine.query("SELECT payment_id, invoice_id, amount_applied, adjustment FROM fct_match"))

    assert matches == {("B1-PAY-6", "INV-9", D("400.00"), D("0.00")), ("B1-PAY-7", "INV-9", D("600.00"), D("0.00")),
                       ("B1-PAY-8", "INV-10", D("980.00"), D("20.00"))}
    assert state == {"INV-9": D("0.00"), "INV-10": D("0.00")}
    assert again == matches


def test_a_credit_memo_b1_netted_inside_a_receipt_closes_with_the_invoice(warehouse_config: WarehouseConfig) -> None:
    """A receipt of 1,272.00 whose PaymentInvoices pay INV-11 (1,452.00) and take credit memo CN-12 (-180.00, a line
    of InvoiceType it_CredItnote, based on no invoice): the credit memo is set against INV-11 (they share a code),
    the receipt pays the rest, and nothing stays open; before, the credit memo stayed the customer's credit and
    INV-11 was paid by the receipt's line alone."""
    from datetime import date

    from warehouse.build import build_core
    from warehouse.reconcile import reconcile

    invoice = _doc(11, "C1", "EUR", "1452.00", "1452.00")
    memo = _doc(12, "C1", "EUR", "180.00", "180.00")
    payment = {"DocEntry": 9, "DocNum": 9, "DocDate": "2026-03-20T00:00:00Z", "CardCode": "C1", "CardName": "C1",
               "DocCurrency": "EUR", "TransferSum": D("1272.00"), "Cancelled": "tNO",
               "UpdateDate": "2026-03-20T00:00:00Z"}
    lines = [{"PaymentDocEntry": 9, "LineNum": n, "entity": "ES01", "DocEntry": doc, "SumApplied": D(amount),
              "AppliedFC": D("0"), "InvoiceType": kind, "CardCode": "C1", "PaymentDate": "2026-03-20"}
             for n, doc, amount, kind in ((0, 11, "1452.00", "it_Invoice"), (1, 12, "-180.00", "it_CredItnote"))]

    def resource(name: str, rows: list[dict[str, Any]]) -> Any:
        return dlt.resource(rows, name=name, table_name=f"raw_sap_b1_{name}", write_disposition="replace",
                            columns=COLUMNS[name])

    run_pipeline("test_b1_netted", [
        resource("invoices", [to_row(invoice, "ES01")]), resource("credit_notes", [to_row(memo, "ES01")]),
        resource("incoming_payments", [to_row(payment, "ES01")]), resource("payment_invoices", lines),
        resource("business_partners", [to_row(o, "ES01") for o in PARTNERS]),
    ], warehouse_config)
    with connect(warehouse_config) as engine:
        build_core(engine, as_of=date(2026, 4, 30), report=build_staging(engine))
        codes = dict(engine.query("SELECT invoice_id, erp_lettrage FROM stg_sap_b1__invoices"))
        reconcile(engine, as_of=date(2026, 4, 30))
        state = dict(engine.query("SELECT invoice_id, amount_open FROM fct_invoice WHERE entity = 'ES01'"))
        matches = set(engine.query("SELECT payment_id, invoice_id, amount_applied, rule FROM fct_match "
                                   "WHERE state = 'auto'"))
    assert codes == {"INV-11": "CN-12,PAY-9", "CN-12": "CN-12,PAY-9"}
    assert state == {"INV-11": D("0.00"), "CN-12": D("0.00")}
    assert matches == {("CN-12", "INV-11", D("180.00"), "credit_note"),
                       ("B1-PAY-9", "INV-11", D("1272.00"), "erp_lettrage")}
