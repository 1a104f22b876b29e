"""A GoCardless payout the bank rejected (status ``bounced``), on DuckDB and Postgres.

GoCardless's payout statuses are ``pending``, ``paid`` and ``bounced`` ("the payout was rejected by the bank"):
a bounced payout's money never reached the creditor's account, like a Stripe payout that failed or was canceled.
Rows are GoCardless's wire objects (developer.gocardless.com/api-reference: payments, payouts), loaded with dlt
as the connector loads them (``links`` become ``links__*`` columns) on top of the tiny book.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, built_raw_book

AS_OF = date(2025, 3, 1)


def _payment(payment_id: str, amount: int, invoice: str, payout: str) -> dict[str, Any]:
    return {"id": payment_id, "entity": "FR01", "amount": amount, "amount_refunded": 0, "currency": "EUR",
            "charge_date": "2025-02-05", "created_at": "2025-02-01T09:00:00.000Z", "description": f"Invoice {invoice}",
            "reference": invoice, "status": "paid_out", "links__mandate": "MD1", "links__payout": payout,
            "metadata__invoice_number": invoice, "metadata__erp_customer_id": "C001"}


def _payout(payout_id: str, amount: int, status: str) -> dict[str, Any]:
    return {"id": payout_id, "entity": "FR01", "amount": amount, "deducted_fees": 0, "currency": "EUR",
            "arrival_date": "2025-02-10", "created_at": "2025-02-08T09:00:00.000Z", "reference": f"GC {payout_id}",
            "status": status, "payout_type": "merchant"}


def test_a_bounced_payout_banks_nothing_and_takes_no_bank_line(
        warehouse_config: WarehouseConfig) -> None:
    """PM1 (FA-2025-000031) was paid out in PO1, which bounced; PM2 (FA-2025-000032) in PO2, paid. A bank line of
    PO1's amount naming GoCardless only is PO2's, not PO1's: PO1 never arrives. PM1 is collected (the customer paid:
    it pays its invoice) yet its money is not banked (banked_payout_id null)."""
    fec = [_fec("31", "VE", 1, "411000", "C001", "FA-2025-000031", date(2025, 2, 1), "250.00", "0.00"),
           _fec("31", "VE", 2, "706000", "", "FA-2025-000031", date(2025, 2, 1), "0.00", "250.00"),
           _fec("32", "VE", 1, "411000", "C001", "FA-2025-000032", date(2025, 2, 1), "250.00", "0.00"),
           _fec("32", "VE", 2, "706000", "", "FA-2025-000032", date(2025, 2, 1), "0.00", "250.00")]
    line = {**BANK[1], "bank_line_id": "B_GC", "booking_date": date(2025, 2, 10), "value_date": date(2025, 2, 10),
            "amount": Decimal("250.00"), "counterparty_name": "GOCARDLESS LTD",
            "counterparty_iban": None, "remittance_unstructured": "GOCARDLESS LTD PAYOUT"}
    more = {"raw_gocardless_payments": [_payment("PM1", 25000, "FA-2025-000031", "PO1"),
                                        _payment("PM2", 25000, "FA-2025-000032", "PO2")],
            "raw_gocardless_payouts": [_payout("PO1", 25000, "bounced"), _payout("PO2", 25000, "paid")]}
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=fec, more_bank_lines=(line,),
                        more_rows=more) as engine:
        banked = engine.query("SELECT payment_id, payout_id, banked_payout_id FROM fct_payment "
                              "WHERE payment_id IN ('PM1', 'PM2') ORDER BY payment_id")
        lines = engine.query("SELECT payout_id, bank_line_id FROM fct_payout WHERE payout_id IN ('PO1', 'PO2') "
                             "ORDER BY payout_id")
        reconcile(engine, as_of=AS_OF)
        paid = engine.query("SELECT invoice_number, status FROM fct_invoice WHERE invoice_number IN "
                            "('FA-2025-000031', 'FA-2025-000032') ORDER BY 1")
    assert banked == [("PM1", "PO1", None), ("PM2", "PO2", "PO2")]
    assert lines == [("PO1", None), ("PO2", "B_GC")]
    # (the customer paid: a collection pays its invoice whatever became of the payout)
    assert paid == [("FA-2025-000031", "paid"), ("FA-2025-000032", "paid")]
