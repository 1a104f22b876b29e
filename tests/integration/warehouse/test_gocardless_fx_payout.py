"""A GoCardless payout paid out through foreign exchange, on DuckDB and Postgres: collected in SEK, the payout is in
SEK (its amount, fees and items), and the bank receives ``fx.fx_amount`` in ``fx.fx_currency`` (EUR). Read in SEK it
was on no statement, a ``payout_not_banked`` for money the bank had credited (found by an independent provider-money
book). Rows are GoCardless's wire objects as the connector loads them (``fx`` becomes ``fx__*`` columns)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lettrage.config import WarehouseConfig
from warehouse.reconcile import reconcile

from .raw_book import BANK, built_raw_book

AS_OF = date(2025, 3, 1)


def _payout(payout_id: str, amount: int, fx_amount: int | None, fx_currency: str) -> dict[str, Any]:
    return {"id": payout_id, "entity": "FR01", "amount": amount, "deducted_fees": 2500, "currency": "SEK",
            "arrival_date": "2025-02-10", "created_at": "2025-02-08T09:00:00.000Z", "reference": f"GC {payout_id}",
            "status": "paid", "payout_type": "merchant", "fx__fx_amount": fx_amount, "fx__fx_currency": fx_currency}


def test_a_payout_paid_out_in_another_currency_is_found_by_what_the_bank_received(
        warehouse_config: WarehouseConfig) -> None:
    line = {**BANK[1], "bank_line_id": "B_FX", "booking_date": date(2025, 2, 10), "value_date": date(2025, 2, 10),
            "amount": Decimal("432.83"), "currency": "EUR", "counterparty_name": "GOCARDLESS LTD",
            "counterparty_iban": None, "remittance_unstructured": "GOCARDLESS GC PO1"}
    more = {"raw_gocardless_payouts": [_payout("PO1", 497500, 43283, "EUR"), _payout("PO2", 100000, None, "EUR")]}
    with built_raw_book(warehouse_config, as_of=AS_OF, more_bank_lines=(line,), more_rows=more) as engine:
        payouts = engine.query("SELECT payout_id, amount, fees, currency, bank_line_id FROM fct_payout "
                               "WHERE payout_id IN ('PO1', 'PO2') ORDER BY payout_id")
        reconcile(engine, as_of=AS_OF)
        not_banked = [r[0] for r in engine.query(
            "SELECT payout_id FROM fct_reconciliation_exception WHERE kind = 'payout_not_banked' "
            "AND resolved_at IS NULL ORDER BY payout_id")]
        customer_credit = engine.query("SELECT count(*) FROM fct_payment WHERE payment_id = 'B_FX'")[0][0]
    # the payout in its own currency; found by the euros the bank received (PO2's rate is not fixed yet: not banked)
    assert payouts == [("PO1", Decimal("4975.00"), Decimal("25.00"), "SEK", "B_FX"),
                       ("PO2", Decimal("1000.00"), Decimal("25.00"), "SEK", None)]
    assert "PO1" not in not_banked
    assert customer_credit == 0  # (the payout's line is no customer's payment)
