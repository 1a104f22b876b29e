"""Amounts survive the warehouse exactly on both engines (no float on the way)."""

from __future__ import annotations

from decimal import Decimal

from lettrage.config import WarehouseConfig
from warehouse.engine import connect
from warehouse.schema import ensure_contract


def test_amounts_sum_exactly_in_the_warehouse(warehouse_config: WarehouseConfig) -> None:
    amounts = [Decimal("0.1"), Decimal("0.2")] + [Decimal("1234567.89")] * 9
    with connect(warehouse_config) as engine:
        ensure_contract(engine)
        engine.executemany(
            "INSERT INTO fct_payment (entity, payment_id, channel, amount, fee, currency, status) "
            "VALUES (:entity, :payment_id, 'bank_transfer', :amount, 0, 'EUR', 'succeeded')",
            [{"entity": "FR01", "payment_id": f"P{i}", "amount": a} for i, a in enumerate(amounts)],
        )
        total, first_two = engine.query(
            "SELECT sum(amount), sum(CASE WHEN payment_id IN ('P0', 'P1') THEN amount END) FROM fct_payment"
        )[0]
    assert isinstance(total, Decimal)
    assert first_two == Decimal("0.30")
    assert total == Decimal("11111111.31")
