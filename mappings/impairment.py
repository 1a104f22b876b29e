"""Impairment matrix as data (``mappings/impairment.yaml``).

Why data: loss rates are an accounting judgement reviewed each closing; the
accountant edits the matrix, the mart applies it. This module only validates.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mappings._loader import MAPPINGS_DIR, load_model, overridable
from mappings.credit_policy import SEGMENTS

DEFAULT_PATH = MAPPINGS_DIR / "impairment.yaml"
BUCKETS: tuple[str, ...] = ("not_due", "1_30", "31_60", "61_90", "over_90")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Specific(_Strict):
    disputed_rate: Decimal = Field(ge=0, le=1)
    at_risk_rate: Decimal = Field(ge=0, le=1)


class ImpairmentPolicy(_Strict):
    loss_rates: dict[str, dict[str, Decimal]]
    specific: Specific
    month_ends: int = Field(default=13, ge=2, le=60)

    @model_validator(mode="after")
    def _full_matrix(self) -> ImpairmentPolicy:
        if set(self.loss_rates) != set(SEGMENTS):
            raise ValueError(f"loss_rates needs one row per segment {list(SEGMENTS)}, got {sorted(self.loss_rates)}")
        for segment, row in self.loss_rates.items():
            if set(row) != set(BUCKETS):
                raise ValueError(f"loss_rates.{segment} needs buckets {list(BUCKETS)}, got {sorted(row)}")
            for bucket, rate in row.items():
                if not Decimal(0) <= rate <= Decimal(1):
                    raise ValueError(f"loss_rates.{segment}.{bucket} = {rate} is not between 0 and 1")
        return self


@overridable("impairment.yaml")
def load_impairment_policy(path: Path) -> ImpairmentPolicy:
    return load_model(ImpairmentPolicy, path)
