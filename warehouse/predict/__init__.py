"""Late-payment prediction: a transparent model trained on the book's own history.

See :mod:`warehouse.predict.model`. Public surface: :func:`build_examples`,
:class:`LatePaymentModel`, :func:`predict_open_invoices`.
"""

from __future__ import annotations

from warehouse.predict.model import FEATURES, LatePaymentModel, build_examples, predict_open_invoices

__all__ = ["FEATURES", "LatePaymentModel", "build_examples", "predict_open_invoices"]
