"""Who will pay late, and why: logistic regression (late or not) and a median regression (days late).

Why a model of our own: nine named features and two small linear models are
enough to beat the naive "customer's average delay", and every prediction can be
explained as coefficient x standardised feature, which finance can read.
scikit-learn would add a dependency for no gain in transparency.

Features of an invoice, computed only from what was known when it was issued
(payments paid before its issue date), so the back-test does not peek:
    prior_avg_delay    customer's mean days late over invoices paid before issue (0 without history)
    prior_late_share   share of those paid late (0.5 without history)
    delay_trend        mean delay of the last 3 minus prior_avg_delay (payer getting worse: > 0)
    amount_vs_usual    log(amount / customer's median prior amount)
    terms_days         due_date - issue_date
    due_at_month_end   1 when due on the 25th or later (month-end cash squeeze)
    due_in_december    1 when due in December (year-end seasonality)
    reminders          dunning steps sent for the invoice before it was paid (or by as_of)
    disputed           1 when the invoice is disputed

Days late = the customer's *usual delay* (median of their delays known at issue;
the book's median without history) + a learned correction. Why not plain least
squares on the features: a linear fit across all customers blurs each payer's
own habit and lost to the naive baseline on mean absolute error. Starting from
the habit and learning only the correction (by least absolute deviations, the
error finance reads; trained on customers with enough history to have a habit)
keeps what the baseline knows and adds what the features know.

For an invoice still open at the as-of date, the days late are conditioned on
that fact: the customer's (corrected) past delays longer than the days it is
already overdue, their median; without any, the day after the as-of date. An
invoice 20 days overdue from a customer who "usually pays 5 days late" is not
going to be paid 5 days late. The probability stays the propensity of such an
invoice to be paid late (before looking at whether it already is): that is what
the reminder scenario choice needs (see ``mappings/dunning.yaml``).
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from statistics import median
from typing import Any

import numpy as np

from lettrage.errors import DataError
from warehouse.engine import Engine
from warehouse.sql import render

FEATURES: tuple[str, ...] = (
    "prior_avg_delay", "prior_late_share", "delay_trend", "amount_vs_usual", "terms_days",
    "due_at_month_end", "due_in_december", "reminders", "disputed",
)
# Bumped whenever features or fitting change, so stored predictions say which model made them.
MODEL_VERSION = "late-v2"
# Below this absolute residual (days) the median regression weights stop growing (IRLS guard).
_LAD_EPSILON = 0.5


class InsufficientHistory(DataError):
    """Too few paid invoices to fit the model; callers fall back to the customer-delay rule."""

    def __init__(self, paid: int, needed: int) -> None:
        self.paid, self.needed = paid, needed
        super().__init__(f"need at least {needed} paid invoices to learn from, got {paid} "
                         "(mappings/prediction.yaml min_paid_invoices)")


@dataclass
class Example:
    entity: str
    invoice_id: str
    customer_id: str
    issue_date: date
    due_date: date
    amount: Decimal
    paid_on: date | None
    features: dict[str, float] = field(default_factory=dict)
    # the customer's delays of paid invoices, oldest payment first (shared by the customer's examples),
    # and how many of them were known when this invoice was issued
    history: Sequence[int] = ()
    n_known: int = 0
    # median of the known delays (None without history): the habit the delay model corrects
    usual_delay: float | None = None

    @property
    def delay(self) -> int | None:
        return None if self.paid_on is None else (self.paid_on - self.due_date).days

    @property
    def known_delays(self) -> Sequence[int]:
        return self.history[:self.n_known]


_HISTORY = """
WITH {{ base_ctes() }},
r AS (
    SELECT entity, invoice_id, sent_at FROM fct_dunning_action WHERE sent_at IS NOT NULL
)
SELECT b.entity, b.invoice_id, b.customer_id, b.issue_date, b.due_date, b.amount_total,
       b.amount_open_now AS amount_open, b.disputed, b.last_paid_on AS paid_on,
       (SELECT count(*) FROM r WHERE r.entity = b.entity AND r.invoice_id = b.invoice_id
          AND CAST(r.sent_at AS DATE) <= coalesce(b.last_paid_on, :as_of)) AS reminders
FROM inv_base AS b
WHERE b.doc_type = 'invoice' AND b.amount_total > 0 AND b.issue_date <= :as_of
  AND coalesce(b.status, '') NOT IN ('credited', 'written_off')
ORDER BY b.entity, b.customer_id, b.issue_date, b.invoice_id
"""


def _history_rows(engine: Engine, as_of: date) -> list[dict[str, Any]]:
    """Every invoice with the day it was paid as the marts date it (``base_ctes``: a payment's ``paid_on``, a credit
    note's issue date, never the day Lettrage matched it): dated by the match, an invoice closed by a receipt and a
    credit note counted as open on every as-of date before the run that matched them, predicted and left out of
    the training set while ``fct_invoice`` and the marts showed it paid."""
    return engine.query_dicts(render(_HISTORY, engine.name), {"as_of": as_of})


def _median_of_sorted(values: list[Any]) -> Any:
    """statistics.median of a list already in order, without the copy and sort it makes on every call.

    The lists grow by insort as the issue date advances and are asked for their median once per
    invoice: sorting them again each time was a third of the prediction step at 1M invoices.
    """
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2


def _customer_examples(invoices: list[dict[str, Any]], as_of: date) -> list[Example]:
    """One customer's invoices in issue order, each with what was known at its issue date.

    Why sorted prefixes: the paid history known at an issue date is a prefix of the
    payments in paid order, so prefix sums and two sorted lists grown as the issue
    date advances give every feature in O(n log n) for the customer, not O(n^2).
    """
    paid = sorted(
        (r for r in invoices if r["paid_on"] is not None and r["paid_on"] <= as_of and r["amount_open"] == 0),
        key=lambda r: r["paid_on"],
    )
    paid_dates = [p["paid_on"] for p in paid]
    delays = [(p["paid_on"] - p["due_date"]).days for p in paid]
    sum_delay, sum_late = [0], [0]
    for d in delays:
        sum_delay.append(sum_delay[-1] + d)
        sum_late.append(sum_late[-1] + (1 if d > 0 else 0))
    amounts_sorted: list[Decimal] = []
    delays_sorted: list[int] = []
    k_done = 0
    out: list[Example] = []
    for r in sorted(invoices, key=lambda r: (r["issue_date"], r["invoice_id"])):
        k = bisect_left(paid_dates, r["issue_date"])  # payments strictly before the issue date
        while k_done < k:
            insort(amounts_sorted, Decimal(paid[k_done]["amount_total"]))
            insort(delays_sorted, delays[k_done])
            k_done += 1
        avg = sum_delay[k] / k if k else 0.0
        last3 = delays[max(k - 3, 0):k]
        usual_amount = _median_of_sorted(amounts_sorted) if amounts_sorted else Decimal(0)
        amount = Decimal(r["amount_total"])
        paid_on = r["paid_on"] if (r["paid_on"] is not None and r["paid_on"] <= as_of
                                   and r["amount_open"] == 0) else None
        ex = Example(r["entity"], r["invoice_id"], r["customer_id"], r["issue_date"], r["due_date"], amount, paid_on,
                     history=delays, n_known=k, usual_delay=float(_median_of_sorted(delays_sorted)) if k else None)
        ex.features = {
            "prior_avg_delay": avg,
            "prior_late_share": sum_late[k] / k if k else 0.5,
            "delay_trend": (sum(last3) / len(last3) - avg) if last3 else 0.0,
            "amount_vs_usual": math.log(amount / usual_amount) if usual_amount > 0 else 0.0,
            "terms_days": float((r["due_date"] - r["issue_date"]).days),
            "due_at_month_end": 1.0 if r["due_date"].day >= 25 else 0.0,
            "due_in_december": 1.0 if r["due_date"].month == 12 else 0.0,
            "reminders": float(r["reminders"] or 0),
            "disputed": 1.0 if r["disputed"] else 0.0,
        }
        out.append(ex)
    return out


def build_examples(engine: Engine, as_of: date) -> list[Example]:
    """Every invoice issued by ``as_of`` with its features; paid_on only when paid by ``as_of`` and closed."""
    by_customer: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in _history_rows(engine, as_of):
        by_customer[(r["entity"], r["customer_id"])].append(r)
    out: list[Example] = []
    for invoices in by_customer.values():
        out.extend(_customer_examples(invoices, as_of))
    return out


def _usual_delay(e: Example, fallback: float) -> float:
    return e.usual_delay if e.usual_delay is not None else fallback


@dataclass
class LatePaymentModel:
    """Two linear models on standardised features; coefficients are the explanation.

    ``l2_late`` and ``l2_delay`` penalise the standardised coefficients of each
    (not the intercepts); ``min_history`` is how many known paid invoices a
    customer needs for their invoices to teach the delay correction
    (``mappings/prediction.yaml``).
    """

    l2_late: float = 1.0
    l2_delay: float = 100.0
    min_history: int = 5
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    w_late: np.ndarray | None = None
    w_delay: np.ndarray | None = None
    book_delay: float = 0.0
    trained_on: int = 0

    def _x(self, examples: Sequence[Example]) -> np.ndarray:
        raw = np.array([[e.features[f] for f in FEATURES] for e in examples], dtype=float)
        assert self.mean is not None and self.scale is not None
        return np.hstack([np.ones((len(examples), 1)), (raw - self.mean) / self.scale])

    def _offset(self, examples: Sequence[Example]) -> np.ndarray:
        return np.array([_usual_delay(e, self.book_delay) for e in examples], dtype=float)

    def fit(self, examples: Sequence[Example], *, min_paid: int = 10, steps: int = 300) -> LatePaymentModel:
        paid = [e for e in examples if e.delay is not None]
        if len(paid) < max(min_paid, 2):
            raise InsufficientHistory(len(paid), max(min_paid, 2))
        self.trained_on = len(paid)
        raw = np.array([[e.features[f] for f in FEATURES] for e in paid], dtype=float)
        self.mean, self.scale = raw.mean(axis=0), raw.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        x = self._x(paid)
        delay = np.array([e.delay for e in paid], dtype=float)
        self.book_delay = float(np.median(delay))
        self.w_delay = self._fit_correction(paid, x, delay, self._ridge(self.l2_delay, x.shape[1]))
        reg = self._ridge(self.l2_late, x.shape[1])
        late = (delay > 0).astype(float)
        w = np.zeros(x.shape[1])
        for _ in range(steps):  # Newton steps (IRLS) converge in a handful; the cap is a guard
            p = 1 / (1 + np.exp(-(x @ w)))
            grad = x.T @ (p - late) + reg @ w
            hess = (x * (p * (1 - p))[:, None]).T @ x + reg + 1e-9 * np.eye(x.shape[1])
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        self.w_late = w
        return self

    @staticmethod
    def _ridge(l2: float, width: int) -> np.ndarray:
        reg = l2 * np.eye(width)
        reg[0, 0] = 0.0  # the intercept is not shrunk
        return reg

    def _fit_correction(self, paid: list[Example], x: np.ndarray, delay: np.ndarray, reg: np.ndarray) -> np.ndarray:
        """Least absolute deviations of (delay - usual delay) by IRLS, on customers with a habit to correct."""
        keep = np.array([e.n_known >= self.min_history for e in paid])
        if keep.sum() < x.shape[1] * 2:  # too few seasoned customers: learn from every paid invoice
            keep[:] = True
        xs, target = x[keep], (delay - self._offset(paid))[keep]
        w = np.linalg.solve(xs.T @ xs + reg, xs.T @ target)
        for _ in range(100):
            weights = 1 / np.maximum(np.abs(target - xs @ w), _LAD_EPSILON)
            xw = xs * weights[:, None]
            new = np.linalg.solve(xw.T @ xs + reg, xw.T @ target)
            if np.abs(new - w).max() < 1e-6:
                return new
            w = new
        return w

    def predict(self, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability late, predicted days late, per-feature contributions to the late logit).

        Days late here ignore whether the invoice is still open; see :meth:`days_if_open_at`.
        """
        assert self.w_late is not None and self.w_delay is not None
        x = self._x(examples)
        prob = 1 / (1 + np.exp(-(x @ self.w_late)))
        return prob, self._offset(examples) + x @ self.w_delay, x[:, 1:] * self.w_late[1:]

    def days_if_open_at(self, examples: Sequence[Example], as_of: date) -> np.ndarray:
        """Days late of invoices known to be unpaid at ``as_of``: conditioned on that, never before as_of + 1."""
        assert self.w_delay is not None
        correction = self._x(examples) @ self.w_delay
        out = np.empty(len(examples))
        for n, (e, c) in enumerate(zip(examples, correction, strict=True)):
            elapsed = (as_of - e.due_date).days
            longer = [d + c for d in e.known_delays if d + c > elapsed]
            if longer:
                out[n] = max(float(median(longer)), elapsed + 1)
            elif e.known_delays:  # never this late before: at the earliest tomorrow
                out[n] = elapsed + 1
            else:
                out[n] = max(self.book_delay + c, elapsed + 1)
        return out

    def explain(self, contributions: np.ndarray, top: int = 3) -> list[str]:
        order = np.argsort(-np.abs(contributions))[:top]
        return [f"{FEATURES[i]} {'+' if contributions[i] > 0 else '-'}{abs(contributions[i]):.2f}" for i in order]


def predict_open_invoices(engine: Engine, as_of: date, *, min_paid: int = 10, l2_late: float = 1.0,
                          l2_delay: float = 100.0, min_history: int = 5, top: int = 3,
                          max_training: int | None = None) -> list[dict[str, Any]]:
    """For each invoice open at ``as_of``: predicted pay date, probability late, top factors.

    The model learns from the ``max_training`` most recently paid invoices (all when None):
    recent habits matter most, and the fit stays a few seconds on a book of millions.
    Raises :class:`InsufficientHistory` when fewer than ``min_paid`` invoices were paid by ``as_of``.
    """
    examples = build_examples(engine, as_of)
    paid = sorted((e for e in examples if e.paid_on is not None), key=lambda e: (e.paid_on, e.invoice_id))
    if max_training is not None:
        paid = paid[-max_training:]
    model = LatePaymentModel(l2_late=l2_late, l2_delay=l2_delay, min_history=min_history).fit(
        paid, min_paid=min_paid)
    open_ = [e for e in examples if e.paid_on is None]
    if not open_:
        return []
    prob, _, contrib = model.predict(open_)
    days = model.days_if_open_at(open_, as_of)
    out = []
    for e, p, d, c in zip(open_, prob, days, contrib, strict=True):
        late_days = math.floor(float(d) + 0.5)  # half a day rounds up: never before the day after as_of
        out.append({"entity": e.entity, "invoice_id": e.invoice_id, "customer_id": e.customer_id,
                    "due_date": e.due_date, "predicted_pay_date": e.due_date + timedelta(days=late_days),
                    "predicted_days_late": late_days, "probability_late": Decimal(f"{float(p):.4f}"),
                    "top_factors": "; ".join(model.explain(c, top)), "model_version": MODEL_VERSION,
                    "trained_on": model.trained_on})
    return out


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank statistic (ties get average ranks)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = labels.sum()
    neg = len(labels) - pos
    if pos == 0 or neg == 0:
        return float("nan")
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg))
