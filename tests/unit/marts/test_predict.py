"""The late-payment model: AUC by hand, features from the history known at issue, the delay as the
customer's habit plus a learned correction, and the days late of an invoice already overdue."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from mappings._loader import MappingError
from mappings.prediction import DEFAULT_PATH, load_prediction_settings
from warehouse.predict.model import (
    FEATURES,
    Example,
    InsufficientHistory,
    LatePaymentModel,
    _customer_examples,
    auc,
)


@pytest.mark.parametrize(
    ("labels", "scores", "expected"),
    [([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], 1.0), ([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9], 0.0),
     ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5), ([0, 1, 1], [0.1, 0.4, 0.35], 1.0)],
    ids=["perfect", "inverted", "all-ties", "three-points"],
)
def test_auc(labels: list[int], scores: list[float], expected: float) -> None:
    assert auc(np.array(labels), np.array(scores)) == pytest.approx(expected)


def _row(inv: str, issue: str, due: str, total: str, paid_on: str | None, reminders: int = 0) -> dict[str, Any]:
    return {"entity": "FR01", "invoice_id": inv, "customer_id": "C1", "issue_date": date.fromisoformat(issue),
            "due_date": date.fromisoformat(due), "amount_total": Decimal(total),
            "amount_open": Decimal("0") if paid_on else Decimal(total), "disputed": False,
            "paid_on": date.fromisoformat(paid_on) if paid_on else None, "reminders": reminders}


def test_features_use_only_what_was_paid_before_issue() -> None:
    rows = [
        _row("A", "2024-01-01", "2024-01-31", "100.00", "2024-02-10"),   # 10 days late
        _row("B", "2024-01-15", "2024-02-14", "300.00", "2024-02-12"),   # 2 days early
        _row("C", "2024-02-11", "2024-03-12", "200.00", "2024-03-20"),   # issued after A was paid, before B
        _row("D", "2024-03-01", "2024-03-31", "400.00", None, reminders=2),  # A and B known, C not yet paid
    ]
    by_id = {e.invoice_id: e for e in _customer_examples(rows, date(2024, 4, 15))}
    a, c, d = by_id["A"], by_id["C"], by_id["D"]
    assert (a.n_known, a.usual_delay, a.features["prior_late_share"]) == (0, None, 0.5)
    # C: only A (10 late) known; amount 200 vs A's 100
    assert (c.n_known, c.usual_delay, c.features["prior_avg_delay"]) == (1, 10.0, 10.0)
    assert c.features["amount_vs_usual"] == pytest.approx(np.log(2))
    # D: A (+10) and B (-2) known: mean 4, median 4, half late; trend: last 3 = both, 4 - 4 = 0
    assert (d.n_known, d.usual_delay, d.features["prior_avg_delay"], d.features["prior_late_share"]) == (
        2, 4.0, 4.0, 0.5)
    assert d.features["amount_vs_usual"] == pytest.approx(np.log(400 / 200))  # median of 100 and 300
    assert (d.features["due_at_month_end"], d.features["reminders"], d.paid_on) == (1.0, 2.0, None)
    assert list(d.known_delays) == [10, -2]


def _example(i: int, habit: int, *, disputed: bool = False, n_known: int = 8) -> Example:
    """Customer habit known from history; a dispute adds 12 days; noise -1..+1."""
    issue = date(2024, 1, 1) + timedelta(days=i % 200)
    due = issue + timedelta(days=30)
    delay = habit + (i % 3) - 1 + (12 if disputed else 0)
    history = [habit - 1, habit, habit + 1] * 3
    e = Example("FR01", f"I{i}", f"C{habit}", issue, due, Decimal("100"), due + timedelta(days=delay),
                history=history, n_known=n_known, usual_delay=float(habit))
    e.features = {f: 0.0 for f in FEATURES}
    e.features.update(prior_avg_delay=float(habit), prior_late_share=1.0 if habit > 0 else 0.0, terms_days=30.0,
                      disputed=1.0 if disputed else 0.0)
    return e


def test_model_learns_the_customer_habit_and_names_it() -> None:
    train = [_example(i, habit=20 if i % 2 else -5) for i in range(200)]
    model = LatePaymentModel().fit(train)
    prob, days, contrib = model.predict([_example(1001, 20), _example(1002, -5)])
    assert prob[0] > 0.9 > 0.1 > prob[1]
    assert days[0] == pytest.approx(20, abs=1.5) and days[1] == pytest.approx(-5, abs=1.5)
    assert model.explain(contrib[0])[0].startswith(("prior_avg_delay", "prior_late_share"))


def test_delay_is_the_habit_plus_a_learned_correction_and_beats_the_customer_average() -> None:
    habits = (-3, 2, 9, 25)
    train = [_example(i, habits[i % 4], disputed=i % 5 == 0) for i in range(400)]
    test = [_example(1000 + i, habits[i % 4], disputed=i % 5 == 0) for i in range(40)]
    model = LatePaymentModel(l2_delay=1.0).fit(train)
    _, days, _ = model.predict(test)
    actual = np.array([e.delay for e in test], dtype=float)
    baseline = np.array([e.features["prior_avg_delay"] for e in test])
    assert np.abs(days - actual).mean() < np.abs(baseline - actual).mean() - 1  # the dispute's 12 days learnt

    def dispute_days(m: LatePaymentModel) -> float:
        assert m.w_delay is not None and m.scale is not None
        return float(m.w_delay[1 + FEATURES.index("disputed")] / m.scale[FEATURES.index("disputed")])

    assert dispute_days(model) == pytest.approx(12, abs=1)
    # a stronger penalty shrinks the correction toward the customer's habit (0 days)
    assert 0 < dispute_days(LatePaymentModel(l2_delay=1000.0).fit(train)) < dispute_days(model) - 2


def test_days_late_of_an_open_invoice_are_conditioned_on_what_already_elapsed() -> None:
    model = LatePaymentModel(mean=np.zeros(len(FEATURES)), scale=np.ones(len(FEATURES)),
                             w_late=np.zeros(len(FEATURES) + 1), w_delay=np.zeros(len(FEATURES) + 1), book_delay=3.0)
    due = date(2024, 3, 1)

    def open_example(history: list[int]) -> Example:
        e = Example("FR01", "X", "C1", due - timedelta(days=30), due, Decimal("50"), None, history=history,
                    n_known=len(history), usual_delay=float(np.median(history)) if history else None)
        e.features = {f: 0.0 for f in FEATURES}
        return e

    history = [0, 2, 4, 20, 22]
    got = model.days_if_open_at([open_example(history)] * 3 + [open_example([])] * 2,
                                due - timedelta(days=5))[:3]
    assert list(got) == [4.0, 4.0, 4.0]                   # not due yet: the customer's median delay
    got = model.days_if_open_at([open_example(history)], due + timedelta(days=10))
    assert list(got) == [21.0]                             # 10 days late already: median of 20 and 22
    got = model.days_if_open_at([open_example(history)], due + timedelta(days=30))
    assert list(got) == [31.0]                             # later than ever: the day after as_of
    got = model.days_if_open_at([open_example([]), open_example([])], due + timedelta(days=1))
    assert list(got) == [3.0, 3.0]                         # no history: the book's median delay (3 > 1 + 1)


def test_model_refuses_too_little_history() -> None:
    with pytest.raises(InsufficientHistory, match="at least 10 paid invoices to learn from, got 3"):
        LatePaymentModel().fit([_example(i, 1) for i in range(3)])


def test_prediction_settings_load_and_reject_a_too_small_minimum(tmp_path: Path) -> None:
    settings = load_prediction_settings()
    assert settings.min_paid_invoices >= 10 and settings.top_factors == 3
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    data["min_paid_invoices"] = 3
    bad = tmp_path / "prediction.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(MappingError, match="min_paid_invoices"):
        load_prediction_settings(bad)
