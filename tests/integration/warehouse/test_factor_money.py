"""A factor's money on our statement, on DuckDB and Postgres: its advances and reserve releases (from the account
mappings/factoring.yaml names) are the factor's, reconciled with the assignments by the factoring step; a reserve
release naming the invoice it concerns is no customer paying that invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig

from .raw_book import BANK, built_raw_book

FACTOR_IBAN = "FR7612739000707654321098765"  # mappings/factoring.yaml, factor_demo's counterparty


def _line(line_id: str, amount: str, remittance: str, iban: str | None, name: str) -> dict[str, Any]:
    return {**BANK[0], "bank_line_id": line_id, "booking_date": date(2025, 2, 20), "value_date": date(2025, 2, 20),
            "amount": Decimal(amount), "counterparty_name": name, "counterparty_iban": iban,
            "remittance_unstructured": remittance}


def test_the_factors_advances_and_reserve_releases_are_no_customer_payments(warehouse_config: WarehouseConfig) -> None:
    lines = (_line("F1", "4500.00", "LIBERATION RESERVE FA-2025-000001 BORDEREAU B7", FACTOR_IBAN, "AFFACTURAGE DEMO SA"),
             _line("F2", "25500.00", "AVANCE BORDEREAU B7", None, "AFFACTURAGE DEMO SA"))
    with built_raw_book(warehouse_config, as_of=date(2025, 3, 1), more_bank_lines=lines) as engine:
        payments = engine.query("SELECT payment_id FROM fct_payment WHERE payment_id IN ('F1', 'F2')")
        bank = engine.query("SELECT bank_line_id FROM fct_bank_line WHERE bank_line_id IN ('F1', 'F2') ORDER BY 1")
    assert payments == [] and bank == [("F1",), ("F2",)]
