"""Everything around the mart SQL that is not a SELECT: policies, rates, customer scores.

* :func:`template_globals` hands the mart templates the validated policies of
  ``mappings/`` (credit policy, impairment matrix) and the entities' currencies,
  so thresholds live in YAML and definitions in SQL, each written once.
* :func:`apply_customer_scores` writes the behaviour mart's segment and score
  back onto ``dim_customer`` (the build calls it right after ``build_marts``).
* :func:`refresh_marts` is the whole mart step: late-payment predictions
  (``warehouse.predict.store``), the marts, the scores.
* :func:`ensure_fx_rates` / :func:`load_fx_rates` keep the ``fx_rates`` table:
  one rate per day and currency into an entity currency. A missing rate leaves
  the converted amount NULL; :func:`warehouse.checks.missing_fx_rates` lists them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from lettrage.errors import RowError
from lettrage.money import currency_code, parse_decimal
from mappings.credit_policy import CreditPolicy, load_credit_policy
from mappings.entities import load_entities
from mappings.impairment import ImpairmentPolicy, load_impairment_policy
from warehouse.engine import Engine

__all__ = [
    "FX_COLUMNS", "apply_customer_scores", "ensure_fx_rates", "load_fx_rates", "load_fx_rates_csv",
    "refresh_marts", "template_globals",
]

FX_TABLE = "fx_rates"
# rate: one unit of `currency` is worth `rate` units of `entity_currency` on `rate_date`.
FX_COLUMNS: tuple[tuple[str, str], ...] = (
    ("rate_date", "DATE"), ("currency", "VARCHAR"), ("entity_currency", "VARCHAR"),
    ("rate", "DECIMAL(18,8)"), ("source", "VARCHAR"),
)


@lru_cache(maxsize=1)
def _entity_currencies() -> dict[str, str]:
    return {e.code: e.currency for e in load_entities().entities}


def template_globals() -> dict[str, Any]:
    """Functions the mart templates call: ``credit_policy()``, ``impairment_policy()``, ``entity_currencies()``."""

    def credit_policy() -> CreditPolicy:
        return load_credit_policy()

    def impairment_policy() -> ImpairmentPolicy:
        return load_impairment_policy()

    return {
        "credit_policy": credit_policy,
        "impairment_policy": impairment_policy,
        "entity_currencies": _entity_currencies,
    }


def apply_customer_scores(engine: Engine) -> int:
    """Copy segment and score from ``mart_customer_payment_behaviour`` onto ``dim_customer``.

    Customers the mart does not know (no invoice yet) get NULL, so a stale score
    never survives a rebuild. Returns the number of customers that got a score.
    """
    with engine.transaction():
        engine.execute(
            """
            UPDATE dim_customer SET segment = NULL, score = NULL
            WHERE NOT EXISTS (SELECT 1 FROM mart_customer_payment_behaviour AS b
                              WHERE b.entity = dim_customer.entity AND b.customer_id = dim_customer.customer_id)
            """
        )
        engine.execute(
            """
            UPDATE dim_customer SET segment = b.segment, score = b.score
            FROM mart_customer_payment_behaviour AS b
            WHERE b.entity = dim_customer.entity AND b.customer_id = dim_customer.customer_id
            """
        )
    return int(engine.query("SELECT count(*) FROM dim_customer WHERE score IS NOT NULL")[0][0])


def refresh_marts(engine: Engine, *, as_of: date, predict: bool = True) -> dict[str, int]:
    """Predictions, build_marts, apply_customer_scores: the mart step as flows, CLI and desk call it.

    Why predictions first: ``mart_cash_forecast`` places each open invoice at its
    predicted pay date of the same as-of date, and the model reads only the
    canonical tables (not the marts), so one pass in this order is enough. Too
    little history writes no prediction (logged) and the forecast keeps its rule.
    ``predict=False`` keeps the stored predictions of ``as_of`` as they are (a
    caller refreshing after one decision need not refit the model).
    """
    from warehouse.build import build_marts
    from warehouse.predict.store import TABLE as PREDICTIONS
    from warehouse.predict.store import write_predictions

    predicted = write_predictions(engine, as_of).rows if predict else None
    report = build_marts(engine, as_of=as_of)
    apply_customer_scores(engine)
    return report.marts if predicted is None else {**report.marts, PREDICTIONS: predicted}


def ensure_fx_rates(engine: Engine) -> None:
    """Create ``fx_rates`` when missing (idempotent)."""
    cols = ", ".join(f'"{c}" {t}' for c, t in FX_COLUMNS)
    engine.execute(f'CREATE TABLE IF NOT EXISTS "{FX_TABLE}" ({cols})')


def load_fx_rates(engine: Engine, rows: Iterable[Mapping[str, Any]], *, source: str = "manual") -> int:
    """Upsert rates (rate_date, currency, entity_currency, rate); a rate is Decimal-exact, never a float."""
    clean: list[dict[str, Any]] = []
    for row in rows:
        rate = parse_decimal(row["rate"] if not isinstance(row["rate"], str) else row["rate"].strip())
        if rate <= 0:
            raise ValueError(f"fx rate must be positive: {row}")
        rate_date = row["rate_date"]
        if isinstance(rate_date, str):
            rate_date = date.fromisoformat(rate_date.strip())
        clean.append({"rate_date": rate_date, "currency": currency_code(row["currency"]),
                      "entity_currency": currency_code(row["entity_currency"]), "rate": rate,
                      "source": row.get("source") or source})
    ensure_fx_rates(engine)
    with engine.transaction():
        engine.executemany(
            f'DELETE FROM "{FX_TABLE}" WHERE rate_date = :rate_date AND currency = :currency '
            "AND entity_currency = :entity_currency",
            [{k: r[k] for k in ("rate_date", "currency", "entity_currency")} for r in clean],
        )
        engine.executemany(
            f'INSERT INTO "{FX_TABLE}" (rate_date, currency, entity_currency, rate, source) '
            "VALUES (:rate_date, :currency, :entity_currency, :rate, :source)",
            clean,
        )
    return len(clean)


def load_fx_rates_csv(engine: Engine, path: Path) -> int:
    """Load a CSV with header ``rate_date,currency,entity_currency,rate``; a bad row names its line."""
    rows: list[dict[str, Any]] = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        expected = {"rate_date", "currency", "entity_currency", "rate"}
        missing = expected - set(reader.fieldnames or ())
        if missing:
            raise RowError(str(path), 1, None, f"missing columns {sorted(missing)}; found {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            try:
                load_row = dict(row)
                load_row["rate"] = Decimal(row["rate"].strip())
                currency_code(row["currency"])
                currency_code(row["entity_currency"])
                date.fromisoformat(row["rate_date"].strip())
            except Exception as exc:  # every malformed field is reported with its line
                raise RowError(str(path), line, None, f"bad fx rate row: {exc}", raw=str(row)) from exc
            rows.append(load_row)
    return load_fx_rates(engine, rows, source=path.name)
