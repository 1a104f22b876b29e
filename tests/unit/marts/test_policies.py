"""The credit policy and impairment matrix validate, and bad ones name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mappings._loader import MappingError
from mappings.credit_policy import DEFAULT_PATH as CREDIT_PATH
from mappings.credit_policy import load_credit_policy
from mappings.impairment import DEFAULT_PATH as IMPAIRMENT_PATH
from mappings.impairment import load_impairment_policy


def test_shipped_policies_load() -> None:
    policy = load_credit_policy()
    assert set(policy.default_limits) == {"punctual", "occasional_late", "chronic_late", "at_risk"}
    assert load_impairment_policy().loss_rates["at_risk"]["over_90"] > load_impairment_policy().loss_rates["punctual"]["over_90"]


def _edit(src: Path, tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(src.read_text())
    edit(data)
    out = tmp_path / src.name
    out.write_text(yaml.safe_dump(data))
    return out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["score"]["weights"].update(on_time=0.5), "sum to 1"),
        (lambda d: d["default_limits"].pop("at_risk"), "missing \\['at_risk'\\]"),
        (lambda d: d["segments"].update(chronic_on_time_below=0.95), "must not exceed punctual_on_time_min"),
        (lambda d: d["default_limits"].update(vip=1), "unknown \\['vip'\\]"),
    ],
    ids=["weights-not-summing-to-one", "missing-segment-limit", "thresholds-out-of-order", "unknown-segment"],
)
def test_bad_credit_policy(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError, match=message):
        load_credit_policy.__wrapped__(_edit(CREDIT_PATH, tmp_path, edit))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["loss_rates"]["punctual"].pop("over_90"), "needs buckets"),
        (lambda d: d["loss_rates"]["punctual"].update(over_90=1.5), "not between 0 and 1"),
        (lambda d: d["loss_rates"].pop("at_risk"), "one row per segment"),
    ],
    ids=["missing-bucket", "rate-above-one", "missing-segment"],
)
def test_bad_impairment_matrix(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(MappingError, match=message):
        load_impairment_policy.__wrapped__(_edit(IMPAIRMENT_PATH, tmp_path, edit))
