"""mappings/matching.yaml validates, merges per entity, and rejects bad files with a clear message."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from mappings.matching import DEFAULT_PATH, load_matching_rules


def test_default_file_loads_with_longest_prefix_first() -> None:
    rules = load_matching_rules()
    assert rules.rule("exact_reference").confidence == Decimal("1.00")
    assert rules.reference.prefixes.index("FACTURE") < rules.reference.prefixes.index("FA")


def test_entity_override_merges_only_given_keys() -> None:
    rules = load_matching_rules()
    de = rules.for_entity("DE01")
    assert de.tolerances.bank_charges_abs == Decimal("10.00")
    assert de.tolerances.rounding_abs == rules.tolerances.rounding_abs
    assert rules.for_entity("XX99") is rules


@pytest.mark.parametrize(("patch", "message"), [
    ({"rules": {"exact_reference": {"confidence": 1.5}}}, "less than or equal to 1"),
    ({"rules": {"magic": {"confidence": 0.5}}}, "unknown rule"),
    ({"reference": {"prefixes": ["FA-"]}}, "letters/digits only"),
    ({"entities": {"FR01": {"tolerances": {"bank_charges_abs": "-1"}}}}, "invalid override for entity FR01"),
], ids=["confidence-above-one", "unknown-rule", "prefix-with-separator", "bad-entity-override"])
def test_invalid_files(tmp_path: Path, patch: dict, message: str) -> None:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    for key, value in patch.items():
        if key == "rules":
            data["rules"].update(value)
        elif key == "entities":
            data["entities"] = value
        else:
            data[key].update(value)
    path = tmp_path / "matching.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=message):
        load_matching_rules(path)
