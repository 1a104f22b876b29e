"""Who will pay late, and why: logistic regression (late or not) and least squares (days late).

Why a model of our own: eight named features and two small linear models are
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
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median
from typing import Any

import numpy as np

from warehouse.engine import Engine

FEATURES: tuple[str, ...] = (
    "prior_avg_delay", "prior_late_share", "delay_trend", "amount_vs_usual", "terms_days",
    "due_at_month_end", "due_in_december", "reminders", "disputed",
)


@dataclass
class Example:
    entity: str
    invoice_id: str
    customer_id: str
    issue_date: date
    due_date: date
    amount: float
    paid_on: date | None
    features: dict[str, float] = field(default_factory=dict)

    @property
    def delay(self) -> int | None:
        return None if self.paid_on is None else (self.paid_on - self.due_date).days


def _history_rows(engine: Engine, as_of: date) -> list[dict[str, Any]]:
    return engine.query_dicts(
        """
        WITH m AS (
            SELECT m.entity, m.invoice_id, max(coalesce(p.paid_on, CAST(m.matched_at AS DATE))) AS paid_on
            FROM fct_match AS m LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id
            WHERE m.state IN ('auto', 'confirmed') GROUP BY m.entity, m.invoice_id
        ), r AS (
            SELECT entity, invoice_id, sent_at FROM fct_dunning_action WHERE sent_at IS NOT NULL
        )
        SELECT i.entity, i.invoice_id, i.customer_id, i.issue_date, i.due_date, i.amount_total, i.amount_open,
               coalesce(i.disputed, FALSE) AS disputed, m.paid_on,
               (SELECT count(*) FROM r WHERE r.entity = i.entity AND r.invoice_id = i.invoice_id
                  AND CAST(r.sent_at AS DATE) <= coalesce(m.paid_on, :as_of)) AS reminders
        FROM fct_invoice AS i LEFT JOIN m ON m.entity = i.entity AND m.invoice_id = i.invoice_id
        WHERE i.doc_type = 'invoice' AND i.amount_total > 0 AND i.issue_date <= :as_of
          AND coalesce(i.status, '') NOT IN ('credited', 'written_off')
        ORDER BY i.entity, i.customer_id, i.issue_date, i.invoice_id
        """,
        {"as_of": as_of},
    )


def build_examples(engine: Engine, as_of: date) -> list[Example]:
    """Every invoice issued by ``as_of`` with its features; paid_on only when paid by ``as_of`` and closed."""
    rows = _history_rows(engine, as_of)
    by_customer: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_customer[(r["entity"], r["customer_id"])].append(r)
    out: list[Example] = []
    for invoices in by_customer.values():
        paid = sorted(
            (r for r in invoices if r["paid_on"] is not None and r["paid_on"] <= as_of and r["amount_open"] == 0),
            key=lambda r: r["paid_on"],
        )
        for r in invoices:
            known = [p for p in paid if p["paid_on"] < r["issue_date"]]
            delays = [(p["paid_on"] - p["due_date"]).days for p in known]
            amounts = [float(p["amount_total"]) for p in known]
            avg = sum(delays) / len(delays) if delays else 0.0
            last3 = delays[-3:]
            paid_on = r["paid_on"] if (r["paid_on"] is not None and r["paid_on"] <= as_of
                                       and r["amount_open"] == 0) else None
            ex = Example(r["entity"], r["invoice_id"], r["customer_id"], r["issue_date"], r["due_date"],
                         float(r["amount_total"]), paid_on)
            ex.features = {
                "prior_avg_delay": avg,
                "prior_late_share": (sum(1 for d in delays if d > 0) / len(delays)) if delays else 0.5,
                "delay_trend": (sum(last3) / len(last3) - avg) if last3 else 0.0,
                "amount_vs_usual": math.log(ex.amount / median(amounts)) if amounts and median(amounts) > 0 else 0.0,
                "terms_days": float((r["due_date"] - r["issue_date"]).days),
                "due_at_month_end": 1.0 if r["due_date"].day >= 25 else 0.0,
                "due_in_december": 1.0 if r["due_date"].month == 12 else 0.0,
                "reminders": float(r["reminders"] or 0),
                "disputed": 1.0 if r["disputed"] else 0.0,
            }
            out.append(ex)
    return out


@dataclass
class LatePaymentModel:
    """Two linear models on standardised features; coefficients are the explanation."""

    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    w_late: np.ndarray | None = None
    w_delay: np.ndarray | None = None

    def _x(self, examples: list[Example]) -> np.ndarray:
        raw = np.array([[e.features[f] for f in FEATURES] for e in examples], dtype=float)
        assert self.mean is not None and self.scale is not None
        return np.hstack([np.ones((len(examples), 1)), (raw - self.mean) / self.scale])

    def fit(self, examples: list[Example], *, l2: float = 1.0, steps: int = 300) -> LatePaymentModel:
        paid = [e for e in examples if e.delay is not None]
        if len(paid) < 10:
            raise ValueError(f"need at least 10 paid invoices to learn from, got {len(paid)}")
        raw = np.array([[e.features[f] for f in FEATURES] for e in paid], dtype=float)
        self.mean, self.scale = raw.mean(axis=0), raw.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        x = self._x(paid)
        delay = np.array([e.delay for e in paid], dtype=float)
        late = (delay > 0).astype(float)
        reg = l2 * np.eye(x.shape[1])
        reg[0, 0] = 0.0
        self.w_delay = np.linalg.solve(x.T @ x + reg, x.T @ delay)
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

    def predict(self, examples: list[Example]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(probability late, predicted days late, per-feature contributions to the late logit)."""
        assert self.w_late is not None and self.w_delay is not None
        x = self._x(examples)
        prob = 1 / (1 + np.exp(-(x @ self.w_late)))
        return prob, x @ self.w_delay, x[:, 1:] * self.w_late[1:]

    def explain(self, contributions: np.ndarray, top: int = 3) -> list[str]:
        order = np.argsort(-np.abs(contributions))[:top]
        return [f"{FEATURES[i]} {'+' if contributions[i] > 0 else '-'}{abs(contributions[i]):.2f}" for i in order]


def predict_open_invoices(engine: Engine, as_of: date) -> list[dict[str, Any]]:
    """For each invoice open at ``as_of``: predicted pay date, probability late, top factors."""
    examples = build_examples(engine, as_of)
    model = LatePaymentModel().fit(examples)
    open_ = [e for e in examples if e.paid_on is None]
    if not open_:
        return []
    prob, days, contrib = model.predict(open_)
    out = []
    for e, p, d, c in zip(open_, prob, days, contrib, strict=True):
        predicted = max(e.due_date + timedelta(days=round(float(d))), as_of + timedelta(days=1))
        out.append({"entity": e.entity, "invoice_id": e.invoice_id, "customer_id": e.customer_id,
                    "due_date": e.due_date, "predicted_pay_date": predicted,
                    "probability_late": round(float(p), 4), "top_factors": "; ".join(model.explain(c))})
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
