"""A tiny book with known answers, inserted straight into the contract tables.

As of 2024-03-15 (a leap year). Every expected figure in the mart tests is worked
out by hand from these rows; the comments say how.

    inv  cust issue       due         total     paid (payment, paid_on, amount)   open now
    I1   C1   2024-01-10  2024-02-09  1000.00   P1 2024-02-09 1000 (on time)      0
    I2   C1   2024-01-31  2024-02-28   400.00   P2 2024-03-05  400 (6 days late)  0
    I3   C1   2024-02-15  2024-03-15   300.00   (due today)                       300
    I10  C1   2024-03-01  2024-05-10   100.00                                     100
    I8   C1   2024-03-20  2024-04-19   999.00   (issued after as_of)              999
    I4   C2   2023-12-01  2023-12-31  2100.00   P3 2024-01-20  900 (partial)      1200
    I5   C2   2024-02-01  2024-03-02   400.00   disputed                          400
    CN1  C2   2024-02-20  2024-02-20  -100.00   credit note, unapplied            -100
    I9   C2   2024-02-10  2024-03-10   700.00   P5 2024-03-20  700 (after as_of)  0
    I6   C3   2023-10-01  2023-10-31   250.00                                     250
    I7   C3   2023-09-01  2023-10-01   600.00   P4 2023-11-30  600 (60 days late) 0
    X1   C3   2023-05-01  2023-05-31    80.00   written off                       80
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from warehouse.engine import Engine
from warehouse.schema import ensure_contract

AS_OF = date(2024, 3, 15)
E = "FR01"


def _d(s: str) -> date:
    return date.fromisoformat(s)


CUSTOMERS = [
    # customer_id, name, terms, credit_limit
    ("C1", "Alpha SARL", 30, Decimal("1000.00")),
    ("C2", "Beta SA", 30, None),
    ("C3", "Gamma EURL", 30, None),
]

INVOICES = [
    # id, customer, doc_type, issue, due, total, open, status, disputed
    ("I1", "C1", "invoice", "2024-01-10", "2024-02-09", "1000.00", "0.00", "paid", False),
    ("I2", "C1", "invoice", "2024-01-31", "2024-02-28", "400.00", "0.00", "paid", False),
    ("I3", "C1", "invoice", "2024-02-15", "2024-03-15", "300.00", "300.00", "open", False),
    ("I10", "C1", "invoice", "2024-03-01", "2024-05-10", "100.00", "100.00", "open", False),
    ("I8", "C1", "invoice", "2024-03-20", "2024-04-19", "999.00", "999.00", "open", False),
    ("I4", "C2", "invoice", "2023-12-01", "2023-12-31", "2100.00", "1200.00", "partially_paid", False),
    ("I5", "C2", "invoice", "2024-02-01", "2024-03-02", "400.00", "400.00", "disputed", True),
    ("CN1", "C2", "credit_note", "2024-02-20", "2024-02-20", "-100.00", "-100.00", "open", False),
    ("I9", "C2", "invoice", "2024-02-10", "2024-03-10", "700.00", "0.00", "paid", False),
    ("I6", "C3", "invoice", "2023-10-01", "2023-10-31", "250.00", "250.00", "overdue", False),
    ("I7", "C3", "invoice", "2023-09-01", "2023-10-01", "600.00", "0.00", "paid", False),
    ("X1", "C3", "invoice", "2023-05-01", "2023-05-31", "80.00", "80.00", "written_off", False),
]

PAYMENTS = [
    # id, customer, amount, paid_on
    ("P1", "C1", "1000.00", "2024-02-09"),
    ("P2", "C1", "400.00", "2024-03-05"),
    ("P3", "C2", "900.00", "2024-01-20"),
    ("P4", "C3", "600.00", "2023-11-30"),
    ("P5", "C2", "700.00", "2024-03-20"),
    ("P6", "C1", "300.00", "2024-03-10"),
]

MATCHES = [
    # id, payment, invoice, amount, state
    ("M1", "P1", "I1", "1000.00", "auto"),
    ("M2", "P2", "I2", "400.00", "auto"),
    ("M3", "P3", "I4", "900.00", "auto"),
    ("M4", "P4", "I7", "600.00", "confirmed"),
    ("M5", "P5", "I9", "700.00", "auto"),
    ("M6", "P6", "I3", "300.00", "suggested"),
    ("M7", "P6", "I10", "100.00", "rejected"),
]

DUNNING = [
    # invoice, customer, step, sent
    ("I2", "C1", "reminder_1", "2024-03-01"),
    ("I4", "C2", "reminder_1", "2024-03-02"),
    ("I4", "C2", "reminder_2", "2024-03-10"),
]

EXCEPTIONS = [
    ("E1", "unmatched_payment", "P9", "250.00", "no invoice named", "2024-03-12", None),
    ("E2", "overpayment", "P1", "5.00", "left as credit", "2024-02-10", "2024-02-12"),
]


def _ts(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=9, tzinfo=UTC)


def load_book(engine: Engine) -> None:
    """Insert the book into freshly created contract tables."""
    ensure_contract(engine)
    now = datetime(2024, 3, 21, tzinfo=UTC)
    rows: dict[str, list[dict[str, Any]]] = {
        "dim_customer": [
            {"entity": E, "customer_id": c, "name": n, "payment_terms_days": t, "credit_limit": lim,
             "currency": "EUR", "source_system": "test", "source_id": c, "_loaded_at": now}
            for c, n, t, lim in CUSTOMERS
        ],
        "fct_invoice": [
            {"entity": E, "invoice_id": i, "invoice_number": i, "customer_id": c, "doc_type": k,
             "issue_date": _d(iss), "due_date": _d(due), "currency": "EUR", "amount_total": Decimal(tot),
             "amount_open": Decimal(op), "status": st, "disputed": disp, "factored": False,
             "source_system": "test", "source_id": i, "_loaded_at": now}
            for i, c, k, iss, due, tot, op, st, disp in INVOICES
        ],
        "fct_payment": [
            {"entity": E, "payment_id": p, "channel": "bank_transfer", "customer_id": c, "amount": Decimal(a),
             "fee": Decimal("0"), "currency": "EUR", "paid_on": _d(on), "status": "succeeded",
             "source_system": "test", "source_id": p, "_loaded_at": now}
            for p, c, a, on in PAYMENTS
        ],
        "fct_match": [
            {"entity": E, "match_id": m, "payment_id": p, "invoice_id": i, "amount_applied": Decimal(a),
             "currency": "EUR", "rule": "test", "confidence": Decimal("1"), "matched_at": now, "state": s}
            for m, p, i, a, s in MATCHES
        ],
        "fct_dunning_action": [
            {"entity": E, "invoice_id": i, "customer_id": c, "step": s, "channel": "email",
             "planned_on": _d(sent), "sent_at": _ts(sent), "outcome": "sent"}
            for i, c, s, sent in DUNNING
        ],
        "fct_reconciliation_exception": [
            {"entity": E, "exception_id": x, "kind": k, "payment_id": p, "amount": Decimal(a), "currency": "EUR",
             "detail": det, "opened_at": _ts(o), "resolved_at": _ts(r) if r else None}
            for x, k, p, a, det, o, r in EXCEPTIONS
        ],
    }
    with engine.transaction():
        for table, items in rows.items():
            cols = list(items[0])
            engine.executemany(
                f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join(":" + c for c in cols)})', items
            )
