"""A book with enough paid history for the late-payment model, inserted straight into the contract tables.

Three customers of FR01, one invoice every 14 days from 2023-06-01 (30-day terms, 1000.00 each),
24 paid each (72 paid invoices, over the 50 of mappings/prediction.yaml), then two open each:

    C1 punctual  paid 1 day early or on the due date, alternately
    C2 late      paid 10, 12, ... 20 days late, in turn
    C3 mixed     paid on the due date or 6 days late, alternately

Open at HISTORY_AS_OF (2024-06-15): H{c}-24 issued 2024-05-02, due 2024-06-01 (14 days past due),
and H{c}-25 issued 2024-05-16, due 2024-06-15 (due today).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tests.integration.marts.conftest import insert_dicts
from warehouse.engine import Engine
from warehouse.schema import ensure_contract

HISTORY_AS_OF = date(2024, 6, 15)
E = "FR01"
DELAYS: dict[str, tuple[int, ...]] = {"C1": (-1, 0), "C2": (10, 12, 14, 16, 18, 20), "C3": (0, 6)}
PAID_PER_CUSTOMER, OPEN_PER_CUSTOMER = 24, 2


def load_history_book(engine: Engine) -> None:
    ensure_contract(engine)
    now = datetime(2024, 6, 15, 6, tzinfo=UTC)
    customers, invoices, payments, matches = [], [], [], []
    for cust, delays in DELAYS.items():
        customers.append({"entity": E, "customer_id": cust, "name": f"Client {cust}", "email": f"ap@{cust.lower()}.fr",
                          "country": "FR", "payment_terms_days": 30, "currency": "EUR", "_loaded_at": now})
        for n in range(PAID_PER_CUSTOMER + OPEN_PER_CUSTOMER):
            inv = f"H{cust}-{n}"
            issue = date(2023, 6, 1) + timedelta(days=14 * n)
            due = issue + timedelta(days=30)
            paid = n < PAID_PER_CUSTOMER
            invoices.append({"entity": E, "invoice_id": inv, "invoice_number": inv, "customer_id": cust,
                             "doc_type": "invoice", "issue_date": issue, "due_date": due, "currency": "EUR",
                             "amount_total": Decimal("1000.00"), "amount_open": Decimal("0.00" if paid else "1000.00"),
                             "status": "paid" if paid else ("overdue" if due < HISTORY_AS_OF else "open"),
                             "disputed": False, "factored": False, "_loaded_at": now})
            if paid:
                payments.append({"entity": E, "payment_id": f"P{inv}", "channel": "bank_transfer", "customer_id": cust,
                                 "amount": Decimal("1000.00"), "fee": Decimal("0"), "currency": "EUR",
                                 "paid_on": due + timedelta(days=delays[n % len(delays)]), "status": "succeeded",
                                 "_loaded_at": now})
                matches.append({"entity": E, "match_id": f"M{inv}", "payment_id": f"P{inv}", "invoice_id": inv,
                                "amount_applied": Decimal("1000.00"), "currency": "EUR", "rule": "test",
                                "confidence": Decimal("1"), "matched_at": now, "state": "auto"})
    with engine.transaction():
        insert_dicts(engine, "dim_customer", customers)
        insert_dicts(engine, "fct_invoice", invoices)
        insert_dicts(engine, "fct_payment", payments)
        insert_dicts(engine, "fct_match", matches)
