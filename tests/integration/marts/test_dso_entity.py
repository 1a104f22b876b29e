"""The whole entity's DSO in its currency (mart_dso_entity), beside mart_dso's one row per invoicing currency: a EUR
entity invoicing in EUR, USD and GBP has one DSO, and the report and the desk head with it (they showed one
currency's rows under the entity's name). Hand-computed book, on DuckDB and Postgres."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from lettrage.config import WarehouseConfig
from reports.render import render_reports
from tests.integration.marts.conftest import D, insert_dicts, rows
from warehouse.build import build_marts
from warehouse.engine import connect
from warehouse.marts import load_fx_rates
from warehouse.schema import ensure_contract
from warehouse.summary import entity_dso

AS_OF = date(2024, 3, 31)
NOW = datetime(2024, 4, 1, tzinfo=UTC)


def _doc(invoice_id: str, currency: str, issued: date, total: str, open_: str) -> dict[str, object]:
    return {"entity": "FR01", "invoice_id": invoice_id, "invoice_number": invoice_id, "customer_id": "C1",
            "doc_type": "invoice", "issue_date": issued, "due_date": issued, "currency": currency,
            "amount_total": Decimal(total), "amount_open": Decimal(open_),
            "status": "overdue" if open_ != "0.00" else "paid", "disputed": False, "factored": False,
            "write_off": False, "_loaded_at": NOW}


BOOK = [
    _doc("U0", "USD", date(2024, 1, 15), "1100.00", "1100.00"),
    _doc("E0", "EUR", date(2024, 2, 10), "500.00", "0.00"),  # (closed with no match: at its issue)
    _doc("E1", "EUR", date(2024, 3, 1), "1000.00", "1000.00"),
    _doc("U1", "USD", date(2024, 3, 5), "1100.00", "1100.00"),
    _doc("G1", "GBP", date(2024, 3, 10), "100.00", "100.00"),  # (no GBP rate: left out, and named)
]


def test_entity_dso_converts_every_currency_at_the_month_end(warehouse_config: WarehouseConfig,
                                                              tmp_path: Path) -> None:
    with connect(warehouse_config) as engine:
        ensure_contract(engine)
        insert_dicts(engine, "fct_invoice", BOOK)
        load_fx_rates(engine, [{"rate_date": date(2024, 1, 1), "currency": "USD", "entity_currency": "EUR",
                                "rate": "0.90"},
                               {"rate_date": date(2024, 3, 31), "currency": "USD", "entity_currency": "EUR",
                                "rate": "0.80"}])
        build_marts(engine, as_of=AS_OF)
        got = rows(engine, "SELECT month_end, currency, receivables, credit_sales_month, credit_sales_90d, "
                           "dso_countback, dso_simple, unconverted_currencies FROM mart_dso_entity ORDER BY month_end")
        per_currency = {r["currency"]: r["dso_countback"] for r in rows(
            engine, "SELECT currency, dso_countback FROM mart_dso WHERE month_end = DATE '2024-03-31'")}
        headline = entity_dso(engine, "FR01")[-1]
        html = render_reports(engine, tmp_path, AS_OF).html["FR01"].read_text()
    assert got == [
        # January: U0 at 0.90 = 990.00 owed, 990.00 sold; the month's 31 days
        {"month_end": date(2024, 1, 31), "currency": "EUR", "receivables": D("990"), "credit_sales_month": D("990"),
         "credit_sales_90d": D("990"), "dso_countback": D("31"), "dso_simple": D("90"), "unconverted_currencies": None},
        # February: 990.00 owed (E0 closed); Feb's 500.00 sold (29 days), then 490 of January's 990 (31 x 490/990)
        {"month_end": date(2024, 2, 29), "currency": "EUR", "receivables": D("990"), "credit_sales_month": D("500"),
         "credit_sales_90d": D("1490"), "dso_countback": D("44.34"), "dso_simple": D("59.8"),
         "unconverted_currencies": None},
        # March, USD at 0.80: 1000 + 2200 x 0.80 = 2,760.00 owed; March sold 1,880.00 (31 days), February 500.00
        # (29), then 380 of January's 880 (31 x 380/880 = 13.39); 2,760 / 3,260 x 90 = 76.20. GBP has no rate.
        {"month_end": date(2024, 3, 31), "currency": "EUR", "receivables": D("2760"), "credit_sales_month": D("1880"),
         "credit_sales_90d": D("3260"), "dso_countback": D("73.39"), "dso_simple": D("76.2"),
         "unconverted_currencies": "GBP"},
    ]
    # each currency apart measures something else (USD 91 days, EUR 31): neither is the entity's
    assert per_currency["USD"] == D("91") and per_currency["EUR"] == D("31")
    assert (headline["month_end"], headline["currency"], headline["dso_countback"]) == (date(2024, 3, 31), "EUR",
                                                                                       Decimal("73.39"))
    assert "DSO count-back (2024-03-31, EUR)" in html and "73.39 d" in html
