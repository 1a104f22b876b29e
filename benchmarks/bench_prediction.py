"""Back-test of the late-payment model against the naive baseline (the customer's own history).

Trains on what was known at a cut-off date (invoices paid by then), predicts the invoices
open at the cut-off that were paid by the as-of date, and prints AUC (late or not) and
mean absolute error in days, for the model and for the baseline (probability = customer's
past late share, delay = customer's past average delay).

    .venv/bin/python benchmarks/bench_prediction.py [--invoices 40000] [--holdout-days 120]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_marts import synthesize  # noqa: E402

from lettrage.config import WarehouseConfig  # noqa: E402
from warehouse.engine import connect  # noqa: E402
from warehouse.predict.model import LatePaymentModel, auc, build_examples  # noqa: E402
from warehouse.schema import ensure_contract  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--invoices", type=int, default=40_000)
    parser.add_argument("--as-of", default="2025-06-15")
    parser.add_argument("--holdout-days", type=int, default=120)
    args = parser.parse_args()
    as_of = date.fromisoformat(args.as_of)
    cutoff = as_of - timedelta(days=args.holdout_days)
    with tempfile.TemporaryDirectory() as tmp:
        with connect(WarehouseConfig(url=f"duckdb:///{Path(tmp) / 'p.duckdb'}")) as engine:
            ensure_contract(engine)
            synthesize(engine, args.invoices, as_of)
            t0 = time.perf_counter()
            at_cutoff = build_examples(engine, cutoff)
            later = {(e.entity, e.invoice_id): e for e in build_examples(engine, as_of)}
    model = LatePaymentModel().fit(at_cutoff)
    test = [e for e in at_cutoff if e.paid_on is None and later[(e.entity, e.invoice_id)].delay is not None]
    actual = np.array([later[(e.entity, e.invoice_id)].delay for e in test], dtype=float)
    prob, days, _ = model.predict(test)
    base_prob = np.array([e.features["prior_late_share"] for e in test])
    base_days = np.array([e.features["prior_avg_delay"] for e in test])
    late = (actual > 0).astype(int)
    print(f"trained on {sum(e.delay is not None for e in at_cutoff):,} paid invoices (cut-off {cutoff}), "
          f"tested on {len(test):,} paid by {as_of} ({late.mean():.1%} late) in {time.perf_counter() - t0:.1f} s")
    print(f"{'':10} {'AUC':>8} {'MAE days':>10}")
    print(f"{'model':10} {auc(late, prob):8.3f} {np.abs(days - actual).mean():10.2f}")
    print(f"{'baseline':10} {auc(late, base_prob):8.3f} {np.abs(base_days - actual).mean():10.2f}")


if __name__ == "__main__":
    main()
