"""Amounts in the entity's currency where a rate is known; missing rates reported, never 1."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lettrage.config import WarehouseConfig
from lettrage.errors import RowError
from tests.integration.marts.book import AS_OF, load_book
from tests.integration.marts.conftest import D, rows
from warehouse.build import build_marts
from warehouse.checks import missing_fx_rates
from warehouse.engine import connect
from warehouse.marts import load_fx_rates, load_fx_rates_csv


def _add_foreign_invoices(engine) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2024, 3, 21, tzinfo=UTC)
    for inv, ccy, amount in (("U1", "USD", "110.00"), ("G1", "GBP", "50.00")):
        engine.execute(
            "INSERT INTO fct_invoice (entity, invoice_id, customer_id, doc_type, issue_date, due_date, currency, "
            "amount_total, amount_open, status, disputed, _loaded_at) VALUES ('FR01', :i, 'C1', 'invoice', "
            "DATE '2024-03-01', DATE '2024-04-30', :c, :a, :a, 'open', FALSE, :now)",
            {"i": inv, "c": ccy, "a": Decimal(amount), "now": now},
        )


def test_rates_convert_and_missing_ones_are_listed(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    kpis = ("SELECT open_amount, overdue_ratio FROM mart_collection_kpis WHERE entity = 'FR01' "
            f"AND measured_on = DATE '{AS_OF.isoformat()}'")
    with connect(warehouse_config) as engine:
        load_book(engine)
        build_marts(engine, as_of=AS_OF)
        before = rows(engine, kpis)[0]
        _add_foreign_invoices(engine)
        csv_path = tmp_path / "rates.csv"
        csv_path.write_text("rate_date,currency,entity_currency,rate\n"
                            "2024-03-01,USD,EUR,0.90000000\n2024-03-14,USD,EUR,0.92\n2024-03-16,USD,EUR,5\n")
        assert load_fx_rates_csv(engine, csv_path) == 3
        build_marts(engine, as_of=AS_OF)
        got = {r["currency"]: r for r in rows(
            engine, "SELECT currency, amount_open, amount_open_entity, entity_currency FROM mart_open_receivables "
                    "WHERE customer_id = 'C1'")}
        assert got["USD"]["amount_open_entity"] == D("101.2")   # 110 * 0.92, the latest rate on or before as_of
        assert got["GBP"]["amount_open_entity"] is None          # no rate: NULL, not 50
        assert got["EUR"]["amount_open_entity"] == D("400")
        missing = missing_fx_rates(engine, AS_OF)
        assert [(m["currency"], m["entity_currency"], m["amount_open"]) for m in missing] == [("GBP", "EUR", Decimal("50.00"))]
        exposure = rows(engine, "SELECT exposure, flag_reason FROM mart_credit_exposure WHERE customer_id = 'C1'")[0]
        assert exposure == {"exposure": D("501.2"), "flag_reason": "missing_fx_rate"}
        # the collection KPIs count the USD invoice at its rate and leave the GBP one out (was: 160 more "euros")
        after = rows(engine, kpis)[0]
        assert after["open_amount"] - before["open_amount"] == D("101.2")
        assert after["overdue_ratio"] < before["overdue_ratio"]  # (not yet due: it dilutes what is past due)
        load_fx_rates(engine, [{"rate_date": date(2024, 3, 1), "currency": "GBP", "entity_currency": "EUR",
                                "rate": "1.17"}])
        build_marts(engine, as_of=AS_OF)
        assert missing_fx_rates(engine, AS_OF) == []


def test_bad_rate_file_names_its_line(warehouse_config: WarehouseConfig, tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text("rate_date,currency,entity_currency,rate\n2024-03-01,USD,EUR,0.9\n2024-03-02,USD,EUR,abc\n")
    with connect(warehouse_config) as engine, pytest.raises(RowError, match=r"rates.csv:3"):
        load_fx_rates_csv(engine, path)
