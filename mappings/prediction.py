"""Late-payment prediction settings as data (``mappings/prediction.yaml``).

Why data: how much history a model needs before finance may read its answers,
and how strongly it leans on each customer's usual delay, are judgement calls a
controller tunes per book; ``warehouse.predict`` only reads the validated values.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mappings._loader import MAPPINGS_DIR, load_model, overridable

DEFAULT_PATH = MAPPINGS_DIR / "prediction.yaml"


class PredictionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_paid_invoices: int = Field(ge=10)
    min_history_for_correction: int = Field(ge=0)
    l2_probability: Decimal = Field(gt=0)
    l2_delay: Decimal = Field(gt=0)
    top_factors: int = Field(ge=1, le=9)
    keep_days: int = Field(ge=0)
    max_training_invoices: int = Field(ge=10)


@overridable("prediction.yaml")
def load_prediction_settings(path: Path) -> PredictionSettings:
    return load_model(PredictionSettings, path)
