"""Credit policy as data (``mappings/credit_policy.yaml``).

Why data: credit control tunes segment thresholds, score weights and default
limits per company without touching SQL; the marts read the validated values.
This module only validates.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mappings._loader import MAPPINGS_DIR, load_model, overridable

DEFAULT_PATH = MAPPINGS_DIR / "credit_policy.yaml"
SEGMENTS: tuple[str, ...] = ("punctual", "occasional_late", "chronic_late", "at_risk")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SegmentRules(_Strict):
    at_risk_days_past_due: int = Field(ge=1)
    at_risk_avg_days_late: Decimal
    chronic_days_past_due: int = Field(ge=1)
    chronic_on_time_below: Decimal = Field(ge=0, le=1)
    chronic_avg_days_late: Decimal
    punctual_on_time_min: Decimal = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SegmentRules:
        if self.chronic_on_time_below > self.punctual_on_time_min:
            raise ValueError("chronic_on_time_below must not exceed punctual_on_time_min")
        if self.chronic_days_past_due > self.at_risk_days_past_due:
            raise ValueError("chronic_days_past_due must not exceed at_risk_days_past_due")
        if self.chronic_avg_days_late > self.at_risk_avg_days_late:
            raise ValueError("chronic_avg_days_late must not exceed at_risk_avg_days_late")
        return self


class ScoreWeights(_Strict):
    on_time: Decimal = Field(ge=0, le=1)
    lateness: Decimal = Field(ge=0, le=1)
    overdue: Decimal = Field(ge=0, le=1)
    disputes: Decimal = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> ScoreWeights:
        total = self.on_time + self.lateness + self.overdue + self.disputes
        if total != Decimal(1):
            raise ValueError(f"score weights must sum to 1, not {total}")
        return self


class ScoreRules(_Strict):
    weights: ScoreWeights
    lateness_cap_days: int = Field(ge=1)
    neutral_component: Decimal = Field(ge=0, le=1)
    threshold: Decimal = Field(ge=0, le=100)


class CreditPolicy(_Strict):
    segments: SegmentRules
    score: ScoreRules
    default_limits: dict[str, Decimal]

    @model_validator(mode="after")
    def _every_segment_has_a_limit(self) -> CreditPolicy:
        missing = [s for s in SEGMENTS if s not in self.default_limits]
        unknown = [s for s in self.default_limits if s not in SEGMENTS]
        if missing or unknown:
            raise ValueError(f"default_limits needs exactly {list(SEGMENTS)}; missing {missing}, unknown {unknown}")
        if any(v < 0 for v in self.default_limits.values()):
            raise ValueError("default_limits must not be negative")
        return self


@overridable("credit_policy.yaml")
def load_credit_policy(path: Path) -> CreditPolicy:
    return load_model(CreditPolicy, path)
