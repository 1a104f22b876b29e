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


def test_minor_units_convert_by_each_currencys_exponent(warehouse_config: WarehouseConfig) -> None:
    """Stripe's integer minor units, converted in SQL by the ISO 4217 exponent lettrage.money holds: 12345 JPY is
    ¥12,345, 12340 KWD is 12.340 KWD (read as cents it was 123.40 KWD: ten times the money, an overpayment of the
    difference left as the customer's credit), 4500000 HUF is 45,000.00. On both engines."""
    from warehouse.sql import render

    cases = [(12345, "jpy", "12345.00"), (12340, "kwd", "12.34"), (25670, "KWD", "25.67"), (4500000, "huf", "45000.00"),
             (1999, "eur", "19.99"), (-500, "bhd", "-0.50")]
    with connect(warehouse_config) as engine:
        sql = render("SELECT {{ minor_to_decimal('UNITS', 'CCY') }}", engine.name)
        sql = sql.replace("UNITS", "CAST(:units AS BIGINT)").replace("CCY", "CAST(:ccy AS TEXT)")
        got = [engine.query(sql, {"units": units, "ccy": ccy})[0][0] for units, ccy, _ in cases]
    assert got == [Decimal(expected) for _, _, expected in cases]
