"""Late-payment predictions stored by the mart refresh, and the cash forecast placing invoices at them (both engines)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from lettrage.config import WarehouseConfig
from tests.integration.marts.book import AS_OF, load_book
from tests.integration.marts.conftest import D, rows
from tests.integration.marts.history_book import HISTORY_AS_OF, OPEN_PER_CUSTOMER, load_history_book
from warehouse.build import build_marts
from warehouse.checks import run_checks
from warehouse.engine import Engine, connect
from warehouse.marts import refresh_marts
from warehouse.predict.model import MODEL_VERSION


def _predictions(engine: Engine, as_of: date) -> dict[str, dict]:  # type: ignore[type-arg]
    return {r["invoice_id"]: r for r in engine.query_dicts(
        "SELECT * FROM mart_invoice_prediction WHERE as_of = :a", {"a": as_of})}


def test_refresh_stores_a_prediction_per_open_invoice(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        load_history_book(engine)
        report = refresh_marts(engine, as_of=HISTORY_AS_OF)
        got = _predictions(engine, HISTORY_AS_OF)
        assert report["mart_invoice_prediction"] == len(got) == 3 * OPEN_PER_CUSTOMER
        for r in got.values():
            assert r["predicted_pay_date"] > HISTORY_AS_OF and Decimal(0) <= r["probability_late"] <= Decimal(1)
            assert (r["model_version"], r["trained_on"], len(r["top_factors"].split("; "))) == (MODEL_VERSION, 72, 3)
            assert r["predicted_pay_date"] == r["due_date"] + timedelta(days=r["predicted_days_late"])
        # the late payer is predicted late, the punctual one not; the late payer's overdue invoice (14 days
        # past due) is expected among its past delays longer than that (16, 18, 20), not tomorrow
        assert got["HC2-24"]["probability_late"] > Decimal("0.9") > Decimal("0.1") > got["HC1-24"]["probability_late"]
        assert date(2024, 6, 16) < got["HC2-24"]["predicted_pay_date"] <= date(2024, 6, 22)
        assert got["HC1-25"]["predicted_pay_date"] == date(2024, 6, 16)  # due today, pays early: tomorrow
        # idempotent per as_of; another as_of is kept beside it
        refresh_marts(engine, as_of=HISTORY_AS_OF)
        refresh_marts(engine, as_of=HISTORY_AS_OF + timedelta(days=1))
        counts = dict(engine.query("SELECT as_of, count(*) FROM mart_invoice_prediction GROUP BY as_of"))
        assert counts == {HISTORY_AS_OF: 6, HISTORY_AS_OF + timedelta(days=1): 6}
        assert [f for f in run_checks(engine) if f.table == "mart_invoice_prediction"] == []


def test_thin_history_writes_no_prediction_and_the_forecast_keeps_its_rule(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        load_book(engine)  # 4 invoices paid by as_of: under min_paid_invoices
        _insert_prediction(engine, AS_OF, "I10", date(2024, 4, 2))  # left from an earlier run of the same date
        report = refresh_marts(engine, as_of=AS_OF)
        assert report["mart_invoice_prediction"] == 0 and _predictions(engine, AS_OF) == {}
        got = {(r["period"], r["horizon_days"]): r["expected_cash"] for r in rows(
            engine, "SELECT * FROM mart_cash_forecast")}
        assert (got[("horizon", 30)], got[("horizon", 60)]) == (D("2185"), D("2284.5"))  # as test_cash_forecast


def _insert_prediction(engine: Engine, as_of: date, invoice_id: str, pay_on: date) -> None:
    due = engine.query("SELECT due_date FROM fct_invoice WHERE invoice_id = :i", {"i": invoice_id})[0][0]
    engine.execute(
        "INSERT INTO mart_invoice_prediction (as_of, entity, invoice_id, customer_id, due_date, predicted_pay_date, "
        "predicted_days_late, probability_late, top_factors, model_version, trained_on) VALUES (:a, 'FR01', :i, "
        "'C1', :due, :p, :days, 0.5, 'prior_avg_delay +0.10', 'test', 100)",
        {"a": as_of, "i": invoice_id, "due": due, "p": pay_on, "days": (pay_on - due).days})


def test_forecast_puts_an_invoice_at_its_predicted_pay_date(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        load_book(engine)
        _insert_prediction(engine, AS_OF, "I10", date(2024, 4, 2))   # rule: 2024-05-12 (due + C1's 2 days)
        _insert_prediction(engine, AS_OF, "I4", date(2024, 5, 1))    # rule: tomorrow (C2 has no paid history)
        _insert_prediction(engine, AS_OF, "I3", date(2024, 3, 1))    # in the past: still tomorrow at the earliest
        _insert_prediction(engine, AS_OF - timedelta(days=1), "I9", date(2024, 6, 1))  # another as_of: ignored
        build_marts(engine, as_of=AS_OF)
        got = {(r["period"], r["horizon_days"]): (r["expected_cash"], r["open_amount"], r["week_start"]) for r in rows(
            engine, "SELECT * FROM mart_cash_forecast")}
    # test_cash_forecast's 2185 within 30 days, less I4 (1200 x 0.8 = 960, now 47 days out),
    # plus I10 (100 x 0.995 = 99.5, now 18 days out): 1324.5; within 60 days everything: 2284.5
    assert got[("horizon", 30)] == (D("1324.5"), D("1750"), None)
    assert got[("horizon", 60)] == (D("2284.5"), D("2950"), None)
    assert got[("week", 2)] == (D("1225"), D("1650"), date(2024, 3, 11))   # I3, I5, I9, I6 as before
    assert got[("week", 23)] == (D("99.5"), D("100"), date(2024, 4, 1))    # I10: week of 2024-04-02
    assert got[("week", 51)] == (D("960"), D("1200"), date(2024, 4, 29))   # I4: week of 2024-05-01
    assert ("week", 58) not in got                                          # I10 no longer in May


def test_an_invoice_a_credit_note_helped_close_is_history_not_predicted(warehouse_config: WarehouseConfig) -> None:
    """Closed by a payment and a credit note both before the as-of date, matched by a run after it: the marts date
    the credit note by its issue date, and so does the model (it dated it by the match: the invoice stayed open at
    every as-of date before the run, predicted while fct_invoice showed it paid, and missing from its training)."""
    from datetime import UTC, datetime

    from tests.integration.marts.conftest import insert_dicts

    later = datetime(2024, 7, 1, 6, tzinfo=UTC)  # the run that matched them, after the as-of date
    base = {"entity": "FR01", "customer_id": "C1", "currency": "EUR", "disputed": False, "factored": False,
            "_loaded_at": later}
    with connect(warehouse_config) as engine:
        load_history_book(engine)
        insert_dicts(engine, "fct_invoice", [
            {**base, "invoice_id": "HX-1", "invoice_number": "HX-1", "doc_type": "invoice", "issue_date": date(2024, 4, 1),
             "due_date": date(2024, 5, 1), "amount_total": D("1000.00"), "amount_open": D("0.00"), "status": "paid"},
            {**base, "invoice_id": "AV-1", "invoice_number": "AV-1", "doc_type": "credit_note",
             "issue_date": date(2024, 4, 10), "due_date": date(2024, 4, 10), "amount_total": D("-200.00"),
             "amount_open": D("0.00"), "status": "paid"}])
        insert_dicts(engine, "fct_payment", [{
            "entity": "FR01", "payment_id": "PX-1", "channel": "bank_transfer", "customer_id": "C1",
            "amount": D("800.00"), "fee": D("0"), "currency": "EUR", "paid_on": date(2024, 5, 1), "status": "succeeded",
            "_loaded_at": later}])
        insert_dicts(engine, "fct_match", [
            {"entity": "FR01", "match_id": f"MX-{p}", "payment_id": p, "invoice_id": "HX-1", "amount_applied": D(a),
             "currency": "EUR", "rule": rule, "confidence": D("1"), "matched_at": later, "state": "auto"}
            for p, a, rule in (("PX-1", "800.00", "exact_reference"), ("AV-1", "200.00", "credit_note"))])
        refresh_marts(engine, as_of=HISTORY_AS_OF)
        got = _predictions(engine, HISTORY_AS_OF)
    assert "HX-1" not in got and len(got) == 3 * OPEN_PER_CUSTOMER
    assert {r["trained_on"] for r in got.values()} == {73}  # (72 and HX-1, paid on its due date)
