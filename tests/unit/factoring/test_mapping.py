"""mappings/factoring.yaml validates; invalid contracts are refused with a message that names the problem."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mappings.factoring import DEFAULT_PATH, FactoringMapping, load_factoring


def test_sample_contract_loads() -> None:
    c = load_factoring().contract(entity="FR01")
    assert c.target.segments == ("at_risk",) and c.target.min_payment_terms_days == 60
    assert c.delivery.method == "sftp" and set(c.file.formats) == {"csv", "xml"}


def _raw() -> dict[str, Any]:
    return dict(yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8")))


def _patch(path: str, value: Any) -> dict[str, Any]:
    raw = _raw()
    node = raw["contracts"][0]
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = value
    return raw


INVALID = [
    ("advance above 100 %", "pricing.advance_rate", "1.2", "advance_rate"),
    ("unknown segment", "target.segments", ["late"], "unknown segments"),
    ("unknown csv column", "file.csv.columns", ["iban"], "unknown bordereau columns"),
    ("pattern without batch id", "file.name_pattern", "B.{ext}", "must contain {batch_id}"),
    ("already_assigned off", "eligibility.exclusions.already_assigned", False, "never assigned twice"),
    ("concentration zero", "eligibility.concentration_limit", "0", "concentration_limit"),
    ("unknown delivery", "delivery", {"method": "ftp", "host": "x"}, "method"),
    ("no counterparty", "counterparty", {"names": [], "ibans": []}, "at least one name or IBAN"),
    ("typo in a key", "eligibility.max_invoice_age", 90, "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("path", "value", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_contracts(path: str, value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        FactoringMapping.model_validate(_patch(path, value))


def test_unknown_contract_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="FDEMO-2026-001"):
        load_factoring().contract("NOPE")
