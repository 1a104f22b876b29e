"""Charges the banks took on the way, on DuckDB and Postgres.

The payer instructed the invoice's amount (camt.053 ``AmtDtls/InstdAmt``, same currency) and the banks between
deducted their charges (SHA), so the account was credited less (``TxAmt``): the payer paid in full, beyond the
bank-charges tolerance of ``mappings/matching.yaml``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.reconcile import reconcile

from .raw_book import BANK, _fec, built_raw_book

AS_OF = date(2025, 3, 1)


def _credit(line_id: str, credited: str, instructed: str | None, remittance: str) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "amount": Decimal(credited), "currency": "EUR",
            "instructed_amount": Decimal(instructed) if instructed else None, "instructed_currency": "EUR",
            "exchange_rate": None, "counterparty_name": "ACME SAS", "remittance_unstructured": remittance}


def test_the_charges_the_banks_deducted_close_the_invoice_the_payer_paid_in_full(
        warehouse_config: WarehouseConfig) -> None:
    """FA-2025-000051 (1,211.75) credited 1,181.75 with 1,211.75 instructed: paid, 30.00 closed as the banks'
    charges. FA-2025-000052 (900.00) credited 870.00 with nothing instructed: 30.00 stays owed (beyond the
    tolerance, nothing says the payer paid more)."""
    fec = [_fec("51", "VE", 1, "411000", "C001", "FA-2025-000051", date(2025, 2, 1), "1211.75", "0.00"),
           _fec("51", "VE", 2, "706000", "", "FA-2025-000051", date(2025, 2, 1), "0.00", "1211.75"),
           _fec("52", "VE", 1, "411000", "C001", "FA-2025-000052", date(2025, 2, 1), "900.00", "0.00"),
           _fec("52", "VE", 2, "706000", "", "FA-2025-000052", date(2025, 2, 1), "0.00", "900.00")]
    lines = (_credit("BC1", "1181.75", "1211.75", "FA-2025-000051"), _credit("BC2", "870.00", None, "FA-2025-000052"))
    with built_raw_book(warehouse_config, as_of=AS_OF, more_fec_lines=fec, more_bank_lines=lines) as engine:
        reconcile(engine, as_of=AS_OF)
        invoices = engine.query("SELECT invoice_number, amount_open FROM fct_invoice WHERE invoice_number IN "
                                "('FA-2025-000051', 'FA-2025-000052') ORDER BY 1")
        adjusted = engine.query("SELECT payment_id, amount_applied, adjustment, adjustment_reason FROM fct_match "
                                "WHERE payment_id IN ('BC1', 'BC2') ORDER BY 1")
    assert invoices == [("FA-2025-000051", Decimal("0.00")), ("FA-2025-000052", Decimal("30.00"))]
    assert adjusted == [("BC1", Decimal("1181.75"), Decimal("30.00"),
                         "charges the banks deducted on the way (instructed 1211.75)"),
                        ("BC2", Decimal("870.00"), Decimal("0.00"), None)]
