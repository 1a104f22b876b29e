"""Forecast versus actual: the cash forecast made at month end M against what came in after it.

The forecast is the very SQL of ``mart_cash_forecast`` rendered as of M (not a
copy of it), so the back-test measures the mart finance reads. "Actual" is what
was applied, by payments paid in (M, M + horizon], to items open at M.

Where late-payment predictions made as of M are stored (``mart_invoice_prediction``,
kept per as-of date), the forecast uses them as the mart does, and each row also
carries ``forecast_rule``: the same SQL with the customer-delay rule alone, so one
can read whether the predictions made the forecast better or worse.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from warehouse import sql
from warehouse.engine import Engine


def _month_ends_before(as_of: date, months: int) -> list[date]:
    ends: list[date] = []
    d = as_of.replace(day=1) - timedelta(days=1)
    while len(ends) < months:
        ends.append(d)
        d = d.replace(day=1) - timedelta(days=1)
    return sorted(ends)


def forecast_backtest(engine: Engine, as_of: date, *, months: int = 6, horizon: int = 30) -> list[dict[str, Any]]:
    """Per entity, currency and month end M (whose horizon ended by as_of): forecast, actual, error."""
    model = next(m for m in sql.discover("marts") if m.name == "mart_cash_forecast")
    out: list[dict[str, Any]] = []
    for m_end in _month_ends_before(as_of, months + 2):
        if m_end + timedelta(days=horizon) > as_of:
            continue
        forecast = _forecast(engine, model, m_end, horizon, use_predictions=True)
        predicted = _has_predictions(engine, m_end)
        rule = _forecast(engine, model, m_end, horizon, use_predictions=False) if predicted else forecast
        actual = engine.query_dicts(
            """
            SELECT i.entity, upper(i.currency) AS currency, sum(m.amount_applied) AS collected
            FROM fct_match AS m
            JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id
            LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id
            WHERE m.state IN ('auto', 'confirmed') AND i.doc_type = 'invoice' AND i.issue_date <= :m_end
              AND coalesce(p.paid_on, CAST(m.matched_at AS DATE)) > :m_end
              AND coalesce(p.paid_on, CAST(m.matched_at AS DATE)) <= :until
            GROUP BY i.entity, upper(i.currency)
            """,
            {"m_end": m_end, "until": m_end + timedelta(days=horizon)},
        )
        keys = {(r["entity"], r["currency"]) for r in forecast} | {(r["entity"], r["currency"]) for r in actual}
        f_by = {(r["entity"], r["currency"]): Decimal(r["expected_cash"] or 0) for r in forecast}
        r_by = {(r["entity"], r["currency"]): Decimal(r["expected_cash"] or 0) for r in rule}
        a_by = {(r["entity"], r["currency"]): Decimal(r["collected"] or 0) for r in actual}
        for entity, currency in sorted(keys):
            f, a = f_by.get((entity, currency), Decimal(0)), a_by.get((entity, currency), Decimal(0))
            fr = r_by.get((entity, currency), Decimal(0))
            out.append({"entity": entity, "currency": currency, "month_end": m_end, "forecast": f, "actual": a,
                        "error": f - a, "error_pct": (f - a) / a * 100 if a else None,
                        "predicted": predicted, "forecast_rule": fr, "error_rule": fr - a})
    return out


def _forecast(engine: Engine, model: sql.Model, m_end: date, horizon: int, *,
              use_predictions: bool) -> list[dict[str, Any]]:
    forecast_sql = sql.render_model(model, engine.name, as_of=m_end.isoformat(), has=engine.table_exists,
                                    use_predictions=use_predictions)
    return engine.query_dicts(
        f"SELECT entity, currency, expected_cash FROM ({forecast_sql}) AS f "
        f"WHERE period = 'horizon' AND horizon_days = {int(horizon)}"
    )


def _has_predictions(engine: Engine, at: date) -> bool:
    if not engine.table_exists("mart_invoice_prediction"):
        return False
    return bool(engine.query("SELECT count(*) FROM mart_invoice_prediction WHERE as_of = :at", {"at": at})[0][0])
