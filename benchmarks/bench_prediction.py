"""Back-test of the late-payment model against the naive baseline (the customer's own history).

Trains on what was known at a cut-off date (invoices paid by then), predicts the invoices
open at the cut-off that were paid by the as-of date, and prints AUC (late or not) and
mean absolute error in days, for the model and for the baseline (probability = customer's
past late share, delay = customer's past average delay). The model's days are those it
stores: conditioned on the invoice being still unpaid at the cut-off, never before the day
after it; the baseline is printed raw and with that same floor, so the floor alone is not
taken for the model's gain.

Then the cash-forecast back-test (reports.forecast_backtest, 30 days) with predictions
written as of each month end (as a nightly refresh would have) against the customer-delay
rule alone: mean absolute error of expected versus collected cash.

    .venv/bin/python benchmarks/bench_prediction.py [--invoices 40000] [--holdout-days 120] [--months 6]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_marts import synthesize  # noqa: E402

from lettrage.config import WarehouseConfig  # noqa: E402
from mappings.prediction import load_prediction_settings  # noqa: E402
from reports.backtest import _month_ends_before, forecast_backtest  # noqa: E402
from warehouse.engine import Engine, connect  # noqa: E402
from warehouse.predict.model import LatePaymentModel, auc, build_examples  # noqa: E402
from warehouse.predict.store import write_predictions  # noqa: E402
from warehouse.schema import ensure_contract  # noqa: E402


def model_versus_baseline(engine: Engine, as_of: date, cutoff: date) -> None:
    settings = load_prediction_settings()
    t0 = time.perf_counter()
    at_cutoff = build_examples(engine, cutoff)
    later = {(e.entity, e.invoice_id): e for e in build_examples(engine, as_of)}
    model = LatePaymentModel(l2_late=float(settings.l2_probability), l2_delay=float(settings.l2_delay),
                             min_history=settings.min_history_for_correction).fit(at_cutoff)
    test = [e for e in at_cutoff if e.paid_on is None and later[(e.entity, e.invoice_id)].delay is not None]
    actual = np.array([later[(e.entity, e.invoice_id)].delay for e in test], dtype=float)
    prob, _, _ = model.predict(test)
    days = model.days_if_open_at(test, cutoff)
    floor = np.array([(cutoff - e.due_date).days + 1 for e in test], dtype=float)
    base_prob = np.array([e.features["prior_late_share"] for e in test])
    base_days = np.array([e.features["prior_avg_delay"] for e in test])
    late = (actual > 0).astype(int)
    print(f"trained on {model.trained_on:,} paid invoices (cut-off {cutoff}), tested on {len(test):,} paid by "
          f"{as_of} ({late.mean():.1%} late) in {time.perf_counter() - t0:.1f} s")
    print(f"{'':28} {'AUC':>8} {'MAE days':>10}")
    print(f"{'model':28} {auc(late, prob):8.3f} {np.abs(days - actual).mean():10.2f}")
    print(f"{'baseline':28} {auc(late, base_prob):8.3f} {np.abs(base_days - actual).mean():10.2f}")
    print(f"{'baseline, not before cut-off+1':28} {'':8} {np.abs(np.maximum(base_days, floor) - actual).mean():10.2f}")


def forecast_with_and_without(engine: Engine, as_of: date, months: int) -> None:
    t0 = time.perf_counter()
    for m_end in _month_ends_before(as_of, months + 2):  # the month ends forecast_backtest looks at
        if m_end + timedelta(days=30) <= as_of:
            write_predictions(engine, m_end)
    rows = [r for r in forecast_backtest(engine, as_of, months=months) if r["predicted"]]
    if not rows:
        print("forecast back-test: no month end with predictions")
        return
    fed = sum((abs(r["error"]) for r in rows), Decimal(0)) / len(rows)
    rule = sum((abs(r["error_rule"]) for r in rows), Decimal(0)) / len(rows)
    actual = sum((r["actual"] for r in rows), Decimal(0)) / len(rows)
    print(f"cash forecast 30 d, {len(rows)} month ends x entity (mean collected {actual:,.0f}) "
          f"in {time.perf_counter() - t0:.1f} s:")
    print(f"  mean |forecast - collected|: predictions {fed:,.0f} ({fed / actual:.1%}), "
          f"customer-delay rule {rule:,.0f} ({rule / actual:.1%}): predictions "
          f"{'better' if fed < rule else 'worse' if fed > rule else 'equal'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=40_000)
    parser.add_argument("--as-of", default="2025-06-15")
    parser.add_argument("--holdout-days", type=int, default=120)
    parser.add_argument("--months", type=int, default=6)
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    with tempfile.TemporaryDirectory() as tmp:
        with connect(WarehouseConfig(url=f"duckdb:///{Path(tmp) / 'p.duckdb'}")) as engine:
            ensure_contract(engine)
            synthesize(engine, args.invoices, as_of)
            model_versus_baseline(engine, as_of, as_of - timedelta(days=args.holdout_days))
            forecast_with_and_without(engine, as_of, args.months)


if __name__ == "__main__":
    main()
