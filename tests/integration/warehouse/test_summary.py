"""The headline figures the CLI, the demo and the artifacts print, read from the marts."""

from __future__ import annotations

from decimal import Decimal

from lettrage.config import WarehouseConfig
from warehouse.engine import connect
from warehouse.schema import ensure_contract
from warehouse.summary import aged_balance, open_receivables


def test_headline_splits_sum_to_their_totals(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        assert open_receivables(engine) == [] and aged_balance(engine) == []  # before the first build
        ensure_contract(engine)
        engine.executemany(
            "INSERT INTO mart_open_receivables (entity, customer_id, status, currency, amount_open) "
            "VALUES (:e, :c, :s, 'EUR', :a)",
            [{"e": "FR01", "c": "C1", "s": "overdue", "a": Decimal("100.10")},
             {"e": "FR01", "c": "C2", "s": "disputed", "a": Decimal("50.00")},
             {"e": "FR01", "c": "C3", "s": "not_due", "a": Decimal("-20.00")}],
        )
        engine.executemany(
            "INSERT INTO mart_aged_balance (entity, customer_id, bucket, currency, amount_open) "
            "VALUES (:e, :c, :b, 'EUR', :a)",
            [{"e": "FR01", "c": "C1", "b": "31_60", "a": Decimal("100.10")},
             {"e": "FR01", "c": "C2", "b": "over_90", "a": Decimal("50.00")},
             {"e": "FR01", "c": "C3", "b": "not_due", "a": Decimal("-20.00")}],
        )
        encours = open_receivables(engine)
        aged = aged_balance(engine)
    assert [(r["entity"], r["overdue"], r["disputed"], r["not_due"], r["partially_paid"], r["total"])
            for r in encours] == [("FR01", Decimal("100.10"), Decimal("50.00"), Decimal("-20.00"), 0,
                                   Decimal("130.10"))]
    assert [(r["d31_60"], r["over_90"], r["not_due"], r["d1_30"], r["d61_90"], r["total"]) for r in aged] == [
        (Decimal("100.10"), Decimal("50.00"), Decimal("-20.00"), 0, 0, Decimal("130.10"))]
