"""Predictions as a table: ``mart_invoice_prediction``, one row per invoice open at an as-of date.

Why stored and not computed on read: the cash forecast (SQL, inside the mart
build) and the reminder run (another process, another day) both read them, and a
prediction finance acted on must stay what it was. Rows are kept per as-of date
(``keep_days`` of ``mappings/prediction.yaml``), so a back-test can later set
what was predicted at a month end against what came in.

:func:`write_predictions` is part of the mart refresh (``warehouse.marts.refresh_marts``
runs it before the marts, so ``mart_cash_forecast`` sees the predictions of its
own as-of date). It never fails the refresh for lack of history: it writes no row
for the date and says why, and the forecast keeps its customer-delay rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from mappings.prediction import PredictionSettings, load_prediction_settings
from warehouse.contract import BY_NAME
from warehouse.engine import Engine
from warehouse.predict.model import InsufficientHistory, predict_open_invoices
from warehouse.reconcile.bulk import insert_rows
from warehouse.schema import ensure_table

log = logging.getLogger(__name__)

TABLE = "mart_invoice_prediction"


@dataclass(frozen=True, slots=True)
class PredictionRun:
    """What one refresh wrote: rows for ``as_of``, or none and the reason."""

    as_of: date
    rows: int
    skipped_reason: str | None = None


def write_predictions(engine: Engine, as_of: date, settings: PredictionSettings | None = None) -> PredictionRun:
    """Replace the predictions of ``as_of`` (idempotent) and prune those older than ``keep_days``."""
    settings = settings or load_prediction_settings()
    table = BY_NAME[TABLE]
    ensure_table(engine, TABLE, table.columns)
    reason: str | None = None
    try:
        rows = predict_open_invoices(
            engine, as_of, min_paid=settings.min_paid_invoices, l2_late=float(settings.l2_probability),
            l2_delay=float(settings.l2_delay), max_training=settings.max_training_invoices,
            min_history=settings.min_history_for_correction, top=settings.top_factors,
        )
    except InsufficientHistory as exc:
        rows, reason = [], str(exc)
    loaded_at = datetime.now(UTC)
    for row in rows:
        row["as_of"], row["_loaded_at"] = as_of, loaded_at
    with engine.transaction():
        engine.execute(f'DELETE FROM "{TABLE}" WHERE as_of = :as_of OR as_of < :oldest',
                       {"as_of": as_of, "oldest": as_of - timedelta(days=settings.keep_days)})
        insert_rows(engine, TABLE, table.column_names, rows)  # one batch, not a statement per row
    # (mart_cash_forecast joins the predictions right after: without statistics Postgres took the table
    # for 60 rows and nested-looped it against every open invoice, 23 s at 120,000 invoices)
    engine.analyze(TABLE)
    if reason:
        log.warning("late-payment prediction as of %s skipped: %s; the cash forecast uses customer delays", as_of,
                    reason)
    else:
        log.info("late-payment prediction as of %s: %d open invoices predicted", as_of, len(rows))
    return PredictionRun(as_of, len(rows), reason)
