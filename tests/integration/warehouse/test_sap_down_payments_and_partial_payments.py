"""SAP's down payments and partial payments, on DuckDB and Postgres.

Line items as the sap_export connector loads them from BSID/BSAD (special G/L indicator UMSKZ, document status
BSTAT, invoice reference REBZG/REBZJ). The customer 10007 asked for a down payment (F-37: a noted item, special
G/L F), paid it (19/A), was invoiced, and SAP cleared the down payment against the invoice (F-39: a 09/A debit
and a credit on the normal account that the final payment cleared with the invoice). The customer 10005 paid part
of an invoice, which SAP posted with the partial-payment method (an open credit item referring to the invoice).
The bank statement shows the three transfers.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.reconcile import reconcile

from .raw_book import BANK, built_raw_book

AS_OF = date(2026, 10, 31)


def _item(doc: str, line: int, customer: str, doc_type: str, posted: date, amount: str, *, umskz: str | None = None,
          bstat: str | None = None, augbl: str | None = None, rebzg: str | None = None, xblnr: str | None = None,
          text: str = "") -> dict[str, Any]:
    return {"entity": "DE01", "company_code": "DE01", "customer": customer, "document_number": doc,
            "fiscal_year": 2026, "line_item": line, "document_type": doc_type, "document_date": posted,
            "posting_date": posted, "baseline_date": posted, "terms_days_1": 0, "terms_days_2": 0,
            "terms_days_3": 30, "net_due_date": posted, "currency": "EUR", "amount": D(amount),
            "amount_local": D(amount), "debit_credit": "H" if amount.startswith("-") else "S",
            "reference": xblnr or doc.lstrip("0"), "assignment": "4509601443", "clearing_document": augbl,
            "clearing_date": posted if augbl else None, "text": text, "special_gl": umskz, "doc_status": bstat, "invoice_ref": rebzg,
            "invoice_ref_year": 2026 if rebzg else None, "source_file": "BSAD.txt", "line_no": line,
            "file_hash": "h", "layout": "technical"}


ITEMS = [
    # the down-payment request (F-37, noted) and the down payment received, which cleared it
    _item("1600000001", 1, "0000010007", "DA", date(2026, 8, 4), "8694.38", umskz="F", bstat="S",
          augbl="1400000166", xblnr="5000120", text="Anzahlungsanforderung Auftrag 5000120"),
    _item("1400000166", 2, "0000010007", "DZ", date(2026, 8, 11), "-8694.38", umskz="A", augbl="1600000002",
          xblnr="5000120", text="Anzahlung Auftrag 5000120"),
    # the final invoice, and the down payment cleared against it (F-39)
    _item("0090000174", 1, "0000010007", "RV", date(2026, 9, 10), "28981.26", augbl="1400000167"),
    _item("1600000002", 1, "0000010007", "DA", date(2026, 9, 14), "8694.38", umskz="A", augbl="1600000002",
          xblnr="5000120", text="Verrechnung Anzahlung 5000120"),
    _item("1600000002", 2, "0000010007", "DA", date(2026, 9, 14), "-8694.38", augbl="1400000167",
          rebzg="0090000174", xblnr="5000120", text="Verrechnung Anzahlung 5000120"),
    # the rest paid, clearing the invoice and the down payment's credit
    _item("1400000167", 1, "0000010007", "DZ", date(2026, 9, 28), "-20286.88", augbl="1400000167",
          xblnr="90000174"),
    # a partial payment SAP keeps open beside its invoice
    _item("0090000148", 1, "0000010005", "RV", date(2026, 8, 20), "13782.58"),
    _item("1400000152", 1, "0000010005", "DZ", date(2026, 9, 2), "-6891.00", rebzg="0090000148",
          xblnr="AKONTO", text="Akonto Zahlung"),
]


def _credit(line_id: str, booked: date, amount: str, remittance: str) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "entity": "DE01", "account_iban": "DE75701500002665916458",
            "booking_date": booked, "value_date": booked, "amount": D(amount), "counterparty_name": "KUNDE GMBH",
            "counterparty_iban": "DE02100100100006820101", "remittance_unstructured": remittance}


BANK_LINES = (_credit("DB1", date(2026, 8, 11), "8694.38", "ANZAHLUNG AUFTRAG 5000120"),
              _credit("DB2", date(2026, 9, 2), "6891.00", "AKONTO ZAHLUNG KD-NR 10005"),
              _credit("DB3", date(2026, 9, 28), "20286.88", "RECHNUNG 90000174 RESTZAHLUNG"))


def test_down_payments_and_partial_payments_pay_the_invoices_sap_says(warehouse_config: WarehouseConfig) -> None:
    """The request is owed by nobody (before, an invoice of 8,694.38 paid by the down payment); the down payment
    pays the final invoice with the rest (the F-39 document moved no money); the partial payment pays its invoice."""
    with built_raw_book(warehouse_config, as_of=AS_OF, more_bank_lines=BANK_LINES,
                        more_rows={"raw_sap_export_items": ITEMS}) as engine:
        documents = engine.query("SELECT invoice_number, amount_total FROM stg_sap_export__invoices ORDER BY 1")
        receipts = engine.query("SELECT payment_id, amount, erp_lettrage FROM stg_sap_export__payments ORDER BY 1")
        reconcile(engine, as_of=AS_OF)
        invoices = engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE entity = 'DE01' ORDER BY 1")
        paid = engine.query("SELECT m.payment_id, i.invoice_number, m.amount_applied, m.rule FROM fct_match AS m "
                            "JOIN fct_invoice AS i ON i.invoice_id = m.invoice_id WHERE m.entity = 'DE01' "
                            "AND m.state = 'auto' ORDER BY 1")
        unapplied = engine.query("SELECT count(*) FROM mart_unapplied_cash WHERE entity = 'DE01'") \
            if engine.table_exists("mart_unapplied_cash") else [(0,)]
    assert documents == [("90000148", D("13782.58")), ("90000174", D("28981.26"))]
    assert receipts == [("SAP-2026-1400000152-1", D("6891.00"), "2026-0090000148"),
                        ("SAP-2026-1400000166-2", D("8694.38"), "1400000167"),
                        ("SAP-2026-1400000167-1", D("20286.88"), "1400000167")]
    assert invoices == [("90000148", D("6891.58")), ("90000174", D("0.00"))]
    assert [(p, n, a) for p, n, a, _ in paid] == [("DB1", "90000174", D("8694.38")), ("DB2", "90000148", D("6891.00")),
                                                  ("DB3", "90000174", D("20286.88"))]
    assert unapplied == [(0,)]


BEFORE_STATEMENTS = [
    # two partial payments posted in July, before the bank statements begin, both open beside their invoice
    _item("0090000205", 1, "0000010029", "RV", date(2026, 7, 8), "10710.00"),
    _item("1400000185", 2, "0000010029", "DZ", date(2026, 7, 24), "-4284.00", rebzg="0090000205", text="Teilzahlung"),
    _item("1400000186", 2, "0000010029", "DZ", date(2026, 7, 29), "-3213.00", rebzg="0090000205", text="Teilzahlung"),
    # a credit memo for part of an invoice, both open, the credit memo referring to the invoice
    _item("0090000173", 1, "0000010016", "RV", date(2026, 9, 1), "4998.00"),
    _item("0070000006", 1, "0000010016", "DG", date(2026, 9, 20), "-714.00", rebzg="0090000173", xblnr="70000006"),
]


def test_partial_payments_before_the_statements_and_a_credit_memo_referring_to_its_invoice(
        warehouse_config: WarehouseConfig) -> None:
    """Before the statements begin (the first bank line is of 11 August) SAP's word settles what the two partial
    payments paid, each its own part, and what SAP still shows open stays owed; the credit memo referring to its
    open invoice is netted with it."""
    with built_raw_book(warehouse_config, as_of=AS_OF, more_bank_lines=BANK_LINES,
                        more_rows={"raw_sap_export_items": ITEMS + BEFORE_STATEMENTS}) as engine:
        reconcile(engine, as_of=AS_OF)
        invoices = engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE entity = 'DE01' "
                                "AND invoice_number IN ('90000205', '90000173', '0070000006', '70000006') ORDER BY 1")
        paid = engine.query("SELECT m.payment_id, m.amount_applied, m.rule FROM fct_match AS m "
                            "JOIN fct_invoice AS i ON i.invoice_id = m.invoice_id WHERE m.entity = 'DE01' "
                            "AND i.invoice_number IN ('90000205', '90000173') AND m.state = 'auto' ORDER BY 1")
    assert invoices == [("70000006", D("0.00")), ("90000173", D("4284.00")), ("90000205", D("3213.00"))]
    assert paid == [("2026-0070000006", D("714.00"), "credit_note"),
                    ("SAP-2026-1400000185-2", D("4284.00"), "erp_lettrage"),
                    ("SAP-2026-1400000186-2", D("3213.00"), "erp_lettrage")]


PAID_ACROSS_THE_START = [
    # a partial payment in July, before the statements begin, open beside its invoice until SAP cleared both with
    # the rest, paid in September
    _item("0090000205", 1, "0000010029", "RV", date(2026, 7, 8), "10710.00", augbl="1400000190"),
    _item("1400000185", 2, "0000010029", "DZ", date(2026, 7, 24), "-4284.00", rebzg="0090000205", augbl="1400000190",
          text="Teilzahlung"),
    _item("1400000190", 1, "0000010029", "DZ", date(2026, 9, 15), "-6426.00", augbl="1400000190", xblnr="90000205"),
]
REST_PAID = ({**_credit("DB4", date(2026, 9, 15), "6426.00", "RECHNUNG 90000205 REST"),
              "counterparty_name": "ANDERE AG", "counterparty_iban": "DE89370400440532013000"},)


def test_an_invoice_part_paid_before_the_statements_and_settled_after(warehouse_config: WarehouseConfig) -> None:
    """SAP cleared the invoice with two receipts: the July one, before the statements, pays its part on SAP's word;
    the bank line pays the rest. Before, the code's latest receipt stood for both: the bank line was the evidence
    for all of it and the July part was left open, an erp_disagreement."""
    with built_raw_book(warehouse_config, as_of=AS_OF, more_bank_lines=BANK_LINES + REST_PAID,
                        more_rows={"raw_sap_export_items": ITEMS + PAID_ACROSS_THE_START}) as engine:
        settlements = engine.query("SELECT payment_id, settled_on, received, applied FROM int_erp_settlements "
                                   "WHERE invoice_id = '2026-0090000205' ORDER BY 1")
        reconcile(engine, as_of=AS_OF)
        invoice = engine.query("SELECT amount_open, status FROM fct_invoice WHERE invoice_id = '2026-0090000205'")
        paid = engine.query("SELECT payment_id, amount_applied, rule FROM fct_match "
                            "WHERE invoice_id = '2026-0090000205' AND state = 'auto' ORDER BY 1")
        exceptions = engine.query("SELECT kind, invoice_id FROM fct_reconciliation_exception "
                                  "WHERE entity = 'DE01' AND resolved_at IS NULL")
    assert settlements == [("SAP-2026-1400000185-2", date(2026, 7, 24), D("10710.00"), D("4284.00")),
                           ("SAP-2026-1400000190-1", date(2026, 9, 15), D("10710.00"), D("6426.00"))]
    assert invoice == [(D("0.00"), "paid")]
    assert paid == [("DB4", D("6426.00"), "exact_reference"), ("SAP-2026-1400000185-2", D("4284.00"), "erp_lettrage")]
    assert exceptions == []
