"""The late-payment model: AUC by hand, and a model that learns an obvious habit and explains it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from warehouse.predict.model import FEATURES, Example, LatePaymentModel, auc


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0), ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], 0.0),
     ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5), ([0, 1, 1], [0.1, 0.4, 0.35], 1.0)],
    ids=["perfect", "inverted", "all-ties", "three-points"],
)
def test_auc(labels: list[int], scores: list[float], expected: float) -> None:
    assert auc(np.array(labels), np.array(scores)) == pytest.approx(expected)


def _example(i: int, habit: float) -> Example:
    issue = date(2024, 1, 1) + timedelta(days=i % 200)
    due = issue + timedelta(days=30)
    delay = int(habit) + (i % 3) - 1
    e = Example("FR01", f"I{i}", f"C{i % 10}", issue, due, 100.0, due + timedelta(days=delay))
    e.features = {f: 0.0 for f in FEATURES}
    e.features.update(prior_avg_delay=habit, prior_late_share=1.0 if habit > 0 else 0.0, terms_days=30.0,
                      reminders=float(i % 2))
    return e


def test_model_learns_the_customer_habit_and_names_it() -> None:
    train = [_example(i, habit=20.0 if i % 2 else -5.0) for i in range(200)]
    model = LatePaymentModel().fit(train)
    test = [_example(1001, 20.0), _example(1002, -5.0)]
    prob, days, contrib = model.predict(test)
    assert prob[0] > 0.9 > 0.1 > prob[1]
    assert days[0] == pytest.approx(20, abs=1.5) and days[1] == pytest.approx(-5, abs=1.5)
    assert model.explain(contrib[0])[0].startswith(("prior_avg_delay", "prior_late_share", "reminders"))


def test_model_refuses_too_little_history() -> None:
    with pytest.raises(ValueError, match="at least 10 paid invoices"):
        LatePaymentModel().fit([_example(i, 1.0) for i in range(3)])
