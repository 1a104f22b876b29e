"""A FEC whose accountant wrote a customer's debt off (an entry against 658 for a small difference of settlement,
654 for a bad debt) and lettered it with the invoice: the ERP shows the invoice settled, and so does Lettrage; one
written off whole is `written_off` (the contract's status), and DSO takes no sale back for it.
Staging, reconciliation and marts on DuckDB and Postgres."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.build import build_marts
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, built_raw_book

AS_OF = date(2025, 3, 31)
Line = dict[str, Any]


def _invoice(entry: str, piece: str, d: date, ttc: str, let: str = "", customer: str = "C001") -> list[Line]:
    return [_fec(entry, "VE", 1, "411000", customer, piece, d, ttc, "0.00", let),
            _fec(entry, "VE", 2, "706000", "", piece, d, "0.00", ttc)]


def _receipt(entry: str, d: date, amount: str, let: str) -> list[Line]:
    return [_fec(entry, "BQ", 1, "512000", "", "VIR", d, amount, "0.00"),
            _fec(entry, "BQ", 2, "411000", "C001", "VIR", d, "0.00", amount, let)]


def _against(entry: str, d: date, account: str, amount: str, let: str, customer: str = "C001") -> list[Line]:
    """An OD entry crediting ``customer`` against ``account`` (658, 654, 416 ...)."""
    return [_fec(entry, "OD", 1, account, "", "ECART", d, amount, "0.00"),
            _fec(entry, "OD", 2, "411000", customer, "ECART", d, "0.00", amount, let)]


BOOK = [
    # settled in the ERP before the statements begin (2025-02-09): 940.00 received, 60.00 written off to 658
    *_invoice("10", "FA-2024-000900", date(2024, 11, 5), "1000.00", "WO"),
    *_receipt("11", date(2024, 12, 20), "940.00", "WO"),
    *_against("12", date(2024, 12, 31), "658000", "60.00", "WO"),
    # paid 2,940.00 by the bank line below; the accountant wrote the 60.00 off and lettered the three
    *_invoice("20", "FA-2025-000950", date(2025, 2, 1), "3000.00", "WX"),
    *_receipt("21", date(2025, 3, 3), "2940.00", "WX"),
    *_against("22", date(2025, 3, 4), "658000", "60.00", "WX"),
    # a bad debt written off whole, its VAT recovered (654 + 44571 against 411), lettered: nothing is owed
    *_invoice("30", "FA-2024-000700", date(2024, 6, 1), "1200.00", "BD"),
    _fec("31", "OD", 1, "654000", "", "IRRECOUVRABLE", date(2025, 1, 31), "1000.00", "0.00"),
    _fec("31", "OD", 2, "445710", "", "IRRECOUVRABLE", date(2025, 1, 31), "200.00", "0.00"),
    _fec("31", "OD", 3, "411000", "C001", "IRRECOUVRABLE", date(2025, 1, 31), "0.00", "1200.00", "BD"),
    # moved to doubtful debts (416), lettered on 411: still owed, only booked elsewhere
    *_invoice("40", "FA-2024-000600", date(2024, 5, 1), "500.00", "DD"),
    *_against("41", date(2025, 1, 15), "416000", "500.00", "DD"),
    # one batch entry writing off two customers' small differences, one of them left unlettered
    *_invoice("50", "FA-2025-000960", date(2025, 2, 3), "100.00", "WB", customer="C002"),
    _fec("51", "OD", 1, "658000", "", "ECARTS", date(2025, 3, 5), "3.50", "0.00"),
    _fec("51", "OD", 2, "411000", "C002", "ECARTS", date(2025, 3, 5), "0.00", "2.00", "WB"),
    _fec("51", "OD", 3, "411000", "C001", "ECARTS", date(2025, 3, 5), "0.00", "1.50"),
]
LINES = [
    {**BANK[0], "bank_line_id": "B50", "booking_date": date(2025, 3, 3), "value_date": date(2025, 3, 3),
     "amount": Decimal("2940.00"), "remittance_unstructured": "REGLEMENT FA-2025-000950"},
    {**BANK[0], "bank_line_id": "B60", "booking_date": date(2025, 3, 4), "value_date": date(2025, 3, 4),
     "amount": Decimal("98.00"), "counterparty_name": "BETA SARL", "counterparty_iban": None,
     "remittance_unstructured": "FA-2025-000960"},
]


def test_an_invoice_the_erp_wrote_off_is_not_owed(warehouse_config: WarehouseConfig) -> None:
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=BOOK, more_bank_lines=LINES) as engine:
        write_offs = engine.query("SELECT invoice_id, invoice_number, customer_id, doc_type, amount_total, erp_lettrage "
                                  "FROM int_invoices WHERE write_off ORDER BY invoice_id")
        reconcile(engine, as_of=AS_OF, entity="FR01")
        build_marts(engine, as_of=AS_OF)
        invoices = dict(engine.query("SELECT invoice_id, amount_open || ' ' || status FROM fct_invoice"))
        flagged = [r[0] for r in engine.query("SELECT invoice_id FROM fct_invoice WHERE write_off ORDER BY invoice_id")]
        sales = dict(engine.query("SELECT month_end, credit_sales_month FROM mart_dso WHERE entity = 'FR01' "
                                  "AND currency = 'EUR' AND month_end IN ('2024-06-30', '2025-01-31', '2025-03-31')"))
        owed = dict(engine.query("SELECT month_end, receivables FROM mart_dso WHERE entity = 'FR01' "
                                 "AND currency = 'EUR' AND month_end IN ('2024-12-31', '2025-01-31')"))
        paid_invoices = engine.query("SELECT paid_invoices FROM mart_customer_payment_behaviour "
                                     "WHERE entity = 'FR01' AND customer_id = 'C001'")[0][0]
        sold = {d: engine.query("SELECT coalesce(sum(amount_total), 0) FROM int_invoices WHERE entity = 'FR01' "
                                "AND upper(currency) = 'EUR' AND NOT write_off AND issue_date > :a AND issue_date <= :b",
                                {"a": a, "b": b})[0][0]
                for d, a, b in ((date(2024, 6, 30), "2024-05-31", "2024-06-30"),
                                (date(2025, 1, 31), "2024-12-31", "2025-01-31"),
                                (date(2025, 3, 31), "2025-02-28", "2025-03-31"))}
        matches = engine.query("SELECT payment_id, amount_applied, rule, explanation FROM fct_match "
                               "WHERE invoice_id = 'FA-2025-000950' ORDER BY payment_id")
        open_exceptions = engine.query("SELECT kind, payment_id FROM fct_reconciliation_exception "
                                       "WHERE resolved_at IS NULL AND invoice_id LIKE 'FA-2025-0009%'")
    # one credit per customer and code of each entry against a write-off charge; nothing of the 416 move, nothing
    # unlettered
    assert write_offs == [
        ("WO/OD-12-2", "write-off OD-12 ECART", "C001", "credit_note", Decimal("-60.00"), "WO"),
        ("WO/OD-22/2025-2", "write-off OD-22/2025 ECART", "C001", "credit_note", Decimal("-60.00"), "WX"),
        ("WO/OD-31/2025-3", "write-off OD-31/2025 IRRECOUVRABLE", "C001", "credit_note", Decimal("-1200.00"), "BD"),
        ("WO/OD-51/2025-2", "write-off OD-51/2025 ECARTS", "C002", "credit_note", Decimal("-2.00"), "WB"),
    ]
    assert invoices["FA-2024-000900"] == "0.00 paid"  # (940.00 on the ERP's receipt, 60.00 written off)
    assert invoices["FA-2025-000950"] == "0.00 paid"  # (the bank line, and the ERP's write-off: no short payment)
    assert invoices["FA-2024-000700"] == "0.00 written_off"  # (the ERP's write-off closed all of it: no credit note)
    assert flagged == [w[0] for w in write_offs]
    assert invoices["FA-2024-000600"] == "500.00 overdue"  # (a doubtful debt is still owed)
    assert invoices["FA-2025-000960"] == "0.00 paid"  # (98.00 paid, 2.00 written off in a batch entry)
    assert [(p, a, r) for p, a, r, _ in matches] == [("B50", Decimal("2940.00"), "exact_reference"),
                                                     ("WO/OD-22/2025-2", Decimal("60.00"), "credit_note")]
    assert "agrees with ERP lettrage WX" in matches[0][3] and "write-off OD-22/2025 ECART" in matches[1][3]
    assert open_exceptions == []
    # the write-offs took no sale back: January 2025's sales are not 1,200.00 lower for the bad debt written off then,
    # March's not 61.50 lower (and the months hold what the book sold, as before)
    assert sales == sold
    assert {str(d)[:7] for d in sales} == {"2024-06", "2025-01", "2025-03"}
    # the bad debt was owed until the ERP wrote it off (31 January 2025), beside the doubtful debt's 500.00; then the
    # January invoice net of its credit note; it is no paid invoice of the customer's (FA-900, FA-2025-1, FA-950 are)
    assert owed == {date(2024, 12, 31): Decimal("1700.00"), date(2025, 1, 31): Decimal("1580.00")}
    assert paid_invoices == 3
