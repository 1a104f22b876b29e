"""Late-payment prediction: a transparent model trained on the book's own history, stored per as-of date.

See :mod:`warehouse.predict.model` (features, fitting, explanation) and
:mod:`warehouse.predict.store` (``mart_invoice_prediction``, written by the mart refresh).
"""

from __future__ import annotations

from warehouse.predict.model import (
    FEATURES,
    MODEL_VERSION,
    InsufficientHistory,
    LatePaymentModel,
    build_examples,
    predict_open_invoices,
)
from warehouse.predict.store import PredictionRun, write_predictions

__all__ = [
    "FEATURES", "MODEL_VERSION", "InsufficientHistory", "LatePaymentModel", "PredictionRun", "build_examples",
    "predict_open_invoices", "write_predictions",
]
