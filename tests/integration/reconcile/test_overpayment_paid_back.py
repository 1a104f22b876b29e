"""An overpayment paid back to the payer by transfer leaves no customer credit, on DuckDB and Postgres.

A customer pays 1,050.00 for an invoice of 1,000.00; the 50.00 excess is its credit (an `overpayment` exception,
unapplied cash) until someone decides. Paid back (a debit of exactly 50.00 to the account the payment came from,
within windows.overpayment_refund_days), nothing is left: the exception is raised closed naming the debit and the
unapplied-cash mart no longer counts it. A debit of another amount, or to another account, changes nothing. The
refund arriving on a later night closes the exception in an incremental run too.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.build import build_marts
from warehouse.engine import Engine
from warehouse.reconcile import reconcile

from ..warehouse.raw_book import BANK, _fec, built_raw_book

AS_OF = date(2025, 4, 30)
C001_IBAN = "FR7630006000011234567890189"


def _invoice(n: int, number: str, amount: str) -> list[dict[str, Any]]:
    return [_fec(f"{n}", "VE", 1, "411000", "C001", number, date(2025, 2, 1), amount, "0.00"),
            _fec(f"{n}", "VE", 2, "706000", "", number, date(2025, 2, 1), "0.00", amount)]


def _line(line_id: str, amount: str, on: date, remittance: str, iban: str = C001_IBAN) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "amount": Decimal(amount), "booking_date": on, "value_date": on,
            "credit_debit": "CRDT" if Decimal(amount) > 0 else "DBIT", "remittance_unstructured": remittance,
            "counterparty_iban": iban, "bank_tx_code": "PMNT/RCDT/ESCT" if Decimal(amount) > 0 else "PMNT/ICDT/ESCT"}


ENTRIES = [*_invoice(70, "FA-2025-000070", "1000.00"), *_invoice(71, "FA-2025-000071", "400.00"),
           *_invoice(72, "FA-2025-000072", "300.00")]
PAYMENTS = [
    _line("P70", "1050.00", date(2025, 3, 3), "FACTURE FA-2025-000070"),     # 50.00 too much, paid back below
    _line("P71", "420.00", date(2025, 3, 4), "FACTURE FA-2025-000071"),      # 20.00 too much, a debit of 25.00
    _line("P72", "330.00", date(2025, 3, 5), "FACTURE FA-2025-000072", iban="DE89370400440532013000"),
]
REFUNDS = [
    _line("R70", "-50.00", date(2025, 3, 20), "REMBOURSEMENT TROP PERCU"),
    _line("R71", "-25.00", date(2025, 3, 21), "DIVERS"),
    _line("R72", "-30.00", date(2025, 3, 22), "TROP PERCU FA-2025-000072"),  # to another account than P72's
]


def _overpayments(engine: Engine) -> dict[str, tuple[Decimal, str | None, bool]]:
    return {str(r[0]): (Decimal(r[1]), r[2], r[3] is not None) for r in engine.query(
        "SELECT payment_id, amount, bank_line_id, resolved_at FROM fct_reconciliation_exception "
        "WHERE kind = 'overpayment'")}


def _unapplied(engine: Engine) -> tuple[Decimal, int]:
    """ACME's unapplied cash (the mart is per customer): amount and number of payments."""
    build_marts(engine, as_of=AS_OF)
    amount, count = engine.query("SELECT amount_unapplied, payment_count FROM mart_unapplied_cash "
                                 "WHERE customer_id = 'C001'")[0]
    return Decimal(amount), int(count)


def test_an_overpayment_paid_back_leaves_no_credit(warehouse_config: WarehouseConfig) -> None:
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES,
                        more_bank_lines=[*PAYMENTS, *REFUNDS]) as engine:
        reconcile(engine, as_of=AS_OF)
        exceptions = _overpayments(engine)
        unapplied = _unapplied(engine)
        status = {str(r[0]): str(r[1]) for r in engine.query(
            "SELECT payment_id, status FROM fct_payment WHERE payment_id LIKE 'P7%'")}

    assert exceptions == {"P70": (Decimal("50.00"), "R70", True), "P71": (Decimal("20.00"), None, False),
                          "P72": (Decimal("30.00"), None, False)}
    assert unapplied == (Decimal("50.00"), 2)                  # P71 and P72; P70's excess went back
    assert status == {"P70": "succeeded", "P71": "succeeded", "P72": "succeeded"}  # the invoices stay paid


def test_a_refund_arriving_later_closes_the_overpayment_incrementally(warehouse_config: WarehouseConfig) -> None:
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES, more_bank_lines=PAYMENTS) as engine:
        reconcile(engine, as_of=AS_OF)
        assert _overpayments(engine)["P70"] == (Decimal("50.00"), None, False)
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=ENTRIES,
                        more_bank_lines=[*PAYMENTS, *REFUNDS]) as engine:
        reconcile(engine, as_of=AS_OF, incremental=True)
        exceptions = _overpayments(engine)
        unapplied = _unapplied(engine)
    assert exceptions["P70"] == (Decimal("50.00"), "R70", True)
    assert exceptions["P71"] == (Decimal("20.00"), None, False)
    assert unapplied == (Decimal("50.00"), 2)                  # P71 and P72, as a full run says
