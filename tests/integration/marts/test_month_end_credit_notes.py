"""What was open at a past month end counts only what had happened by then, both engines.

A small book as of 2025-11-14 (customer C1, EUR), every figure worked out by hand:

    doc    type         issue       due         total    closed by (date)                         open now
    FA-A   invoice      2025-08-20  2025-09-19  1000.00  P1 980.00 + 20.00 discount (2025-10-20)  0       paid
    FA-S   invoice      2025-09-10  2025-10-10   495.36  AV-O (issued 2025-10-04)                 0       credited
    AV-O   credit_note  2025-10-04  2025-10-04  -495.36  used on FA-S                             0       paid
    AV-E   credit_note  2025-09-25  2025-09-25   -50.00  used on FA-L (issued 2025-10-05)         0       paid
    FA-L   invoice      2025-10-05  2025-11-04   200.00  AV-E 50.00                               150     partially_paid
    FA-N   invoice      2025-10-15  2025-11-14   300.00                                           300     open

At 2025-09-30: FA-A 1000 (its payment and discount came in October), FA-S 495.36 (its credit note came in
October), AV-E -50 (the invoice it was used on did not exist yet): 1445.36. At 2025-10-31: FA-L 150, FA-N 300.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from lettrage.config import WarehouseConfig
from tests.integration.marts.conftest import D, insert_dicts, rows
from warehouse.build import build_marts
from warehouse.checks import run_checks
from warehouse.engine import Engine, connect
from warehouse.schema import ensure_contract

AS_OF = date(2025, 11, 14)
SEPT, OCT = date(2025, 9, 30), date(2025, 10, 31)
E = "FR01"

DOCS = [
    # id, doc_type, issue, due, total, open, status
    ("FA-A", "invoice", "2025-08-20", "2025-09-19", "1000.00", "0.00", "paid"),
    ("FA-S", "invoice", "2025-09-10", "2025-10-10", "495.36", "0.00", "credited"),
    ("AV-O", "credit_note", "2025-10-04", "2025-10-04", "-495.36", "0.00", "paid"),
    ("AV-E", "credit_note", "2025-09-25", "2025-09-25", "-50.00", "0.00", "paid"),
    ("FA-L", "invoice", "2025-10-05", "2025-11-04", "200.00", "150.00", "partially_paid"),
    ("FA-N", "invoice", "2025-10-15", "2025-11-14", "300.00", "300.00", "open"),
]

MATCHES = [
    # id, payment (or credit note), invoice, applied, adjustment, rule
    ("M-P1", "P1", "FA-A", "980.00", "20.00", "reference"),
    ("M-AV-O", "AV-O", "FA-S", "495.36", "0.00", "credit_note"),
    ("M-AV-E", "AV-E", "FA-L", "50.00", "0.00", "credit_note"),
]


def load_credit_book(engine: Engine) -> None:
    ensure_contract(engine)
    # Lettrage matched everything on its last run, after the month ends asked about
    now = datetime(2025, 11, 14, 6, tzinfo=UTC)
    with engine.transaction():
        insert_dicts(engine, "dim_customer", [{"entity": E, "customer_id": "C1", "name": "Alpha SARL",
                                          "payment_terms_days": 30, "currency": "EUR", "_loaded_at": now}])
        insert_dicts(engine, "fct_invoice", [
            {"entity": E, "invoice_id": i, "invoice_number": i, "customer_id": "C1", "doc_type": k,
             "issue_date": date.fromisoformat(iss), "due_date": date.fromisoformat(due), "currency": "EUR",
             "amount_total": Decimal(tot), "amount_open": Decimal(op), "status": st, "disputed": False,
             "factored": False, "source_system": "test", "source_id": i, "_loaded_at": now}
            for i, k, iss, due, tot, op, st in DOCS])
        insert_dicts(engine, "fct_payment", [
            {"entity": E, "payment_id": "P1", "channel": "bank_transfer", "customer_id": "C1",
             "amount": Decimal("980.00"), "fee": Decimal("0"), "currency": "EUR", "paid_on": date(2025, 10, 20),
             "status": "succeeded", "source_system": "test", "source_id": "P1", "_loaded_at": now}])
        insert_dicts(engine, "fct_match", [
            {"entity": E, "match_id": m, "payment_id": p, "invoice_id": i, "amount_applied": Decimal(a),
             "adjustment": Decimal(adj), "currency": "EUR", "rule": rule, "confidence": Decimal("1"),
             "matched_at": now, "state": "auto"}
            for m, p, i, a, adj, rule in MATCHES])


@pytest.fixture
def credit_book(warehouse_config: WarehouseConfig) -> Iterator[Engine]:
    with connect(warehouse_config) as engine:
        load_credit_book(engine)
        build_marts(engine, as_of=AS_OF)
        yield engine


def test_dso_receivables_at_a_past_month_end_leave_out_later_credit_notes_and_payments(credit_book: Engine) -> None:
    got = {r["month_end"]: r for r in rows(credit_book, "SELECT * FROM mart_dso")}
    sept, oct_ = got[SEPT], got[OCT]
    # Sales on their issue dates: Sept 495.36 - 50 = 445.36; Aug 1000; the 90 days to 30 Sept: 1445.36
    assert (sept["receivables"], sept["credit_sales_month"], sept["credit_sales_90d"]) == (
        D("1445.36"), D("445.36"), D("1445.36"))
    # 1445.36 / 1445.36 * 90; countback: September's 445.36 (30 days), then all of August's 1000 (31 days)
    assert (sept["dso_simple"], sept["dso_countback"]) == (D("90"), D("61"))
    # By 31 October FA-A was paid, FA-S credited and AV-E used on FA-L: FA-L 150 + FA-N 300
    assert oct_["receivables"] == D("450")


def test_aged_balance_at_a_past_month_end(credit_book: Engine) -> None:
    build_marts(credit_book, as_of=SEPT)
    got = {r["bucket"]: (r["amount_open"], r["invoice_count"]) for r in rows(
        credit_book, "SELECT bucket, amount_open, invoice_count FROM mart_aged_balance")}
    # FA-A 1000 eleven days late and AV-E -50 five days past its date; FA-S 495.36 not due until 10 October
    assert got == {"1_30": (D("950"), 2), "not_due": (D("495.36"), 1)}
    total = rows(credit_book, "SELECT sum(amount_open) AS t FROM mart_open_receivables")[0]["t"]
    assert total == D("1445.36")  # the DSO receivables at that month end
    assert [str(f) for f in run_checks(credit_book)] == []


def test_open_receivables_at_the_last_sync_still_equal_fct_invoice(credit_book: Engine) -> None:
    total = rows(credit_book, "SELECT sum(amount_open) AS t FROM mart_open_receivables")[0]["t"]
    assert total == D("450")  # FA-L 150 + FA-N 300; credited and used documents are closed now
    assert [str(f) for f in run_checks(credit_book)] == []


def test_impairment_and_collection_kpis_at_a_past_month_end(credit_book: Engine) -> None:
    imp = rows(credit_book, "SELECT bucket, sum(amount_open) AS a FROM mart_receivables_impairment "
                            f"WHERE month_end = DATE '{SEPT}' GROUP BY bucket")
    assert {r["bucket"]: r["a"] for r in imp} == {"1_30": D("950"), "not_due": D("495.36")}
    kpis = {r["month"]: r for r in rows(credit_book, "SELECT * FROM mart_collection_kpis")}
    sept = kpis[date(2025, 9, 1)]
    assert (sept["measured_on"], sept["open_amount"], sept["overdue_amount"]) == (SEPT, D("1445.36"), D("950"))


def test_a_credited_invoice_is_no_paid_invoice_in_the_customer_s_behaviour(credit_book: Engine) -> None:
    got = rows(credit_book, "SELECT paid_invoices, avg_days_to_pay, avg_days_late FROM mart_customer_payment_behaviour")
    # FA-A only (paid 2025-10-20: 61 days after issue, 31 after due); FA-S was credited, not paid
    assert got == [{"paid_invoices": 1, "avg_days_to_pay": D("61"), "avg_days_late": D("31")}]


def test_a_credit_note_on_an_overdue_invoice_recovers_nothing(credit_book: Engine) -> None:
    """Recovery is money collected on what was past due: an overdue invoice credited (or written off in the ERP,
    a credit of the same rule) in October leaves the rate at what P1 paid, 980.00 of 1,100.00 past due."""
    now = datetime(2025, 11, 14, 6, tzinfo=UTC)
    base = {"entity": E, "customer_id": "C1", "currency": "EUR", "disputed": False, "factored": False,
            "source_system": "test", "_loaded_at": now}
    insert_dicts(credit_book, "fct_invoice", [
        {**base, "invoice_id": "FA-X", "invoice_number": "FA-X", "source_id": "FA-X", "doc_type": "invoice",
         "issue_date": date(2025, 8, 1), "due_date": date(2025, 8, 31), "amount_total": D("100.00"),
         "amount_open": D("0.00"), "status": "credited"},
        {**base, "invoice_id": "WO-X", "invoice_number": "write-off OD-9", "source_id": "WO-X",
         "doc_type": "credit_note", "issue_date": date(2025, 10, 10), "due_date": date(2025, 10, 10),
         "amount_total": D("-100.00"), "amount_open": D("0.00"), "status": "paid"}])
    insert_dicts(credit_book, "fct_match", [{
        "entity": E, "match_id": "M-WO-X", "payment_id": "WO-X", "invoice_id": "FA-X", "amount_applied": D("100.00"),
        "adjustment": D("0.00"), "currency": "EUR", "rule": "credit_note", "confidence": D("1"), "matched_at": now,
        "state": "auto"}])
    build_marts(credit_book, as_of=AS_OF)
    oct_ = {r["month"]: r for r in rows(credit_book, "SELECT * FROM mart_collection_kpis")}[date(2025, 10, 1)]
    assert oct_["recovery_rate"] == D("0.8909")  # 980 / (1000 + 100): the credit note is no recovery
