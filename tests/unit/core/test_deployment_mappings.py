"""A deployment's own mappings ($LETTRAGE__MAPPINGS_DIR) are read instead of the packaged ones."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mappings._loader import MAPPINGS_DIR, MappingError, mapping_file
from mappings.entities import DEFAULT_PATH, entities_file, load_entities
from mappings.matching import load_matching_rules
from mappings.sap import LAYOUTS_DIR, load_layouts


@pytest.fixture
def own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LETTRAGE__MAPPINGS_DIR", str(tmp_path))
    return tmp_path


def test_without_a_deployment_folder_the_packaged_files_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETTRAGE__MAPPINGS_DIR", raising=False)
    assert mapping_file("entities.yaml") == DEFAULT_PATH
    assert "LETTRAGE__MAPPINGS_DIR" in entities_file()  # the message says how to keep a list of one's own


def test_an_entity_is_added_without_editing_the_install(own: Path) -> None:
    packaged = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))
    finnish = {"code": "FI01", "name": "Kuusiniemi Components Oy", "country": "FI", "currency": "EUR",
               "erp": "sap_export", "sap_company_code": "FI01", "bank_ibans": ["FI21 1234 5600 0007 85"]}
    (own / "entities.yaml").write_text(yaml.safe_dump({"entities": [*packaged["entities"], finnish]}),
                                       encoding="utf-8")
    entities = load_entities()
    assert "FI01" in entities.codes() and entities.by_iban()["FI2112345600000785"] == "FI01"
    assert entities.by_company_code()["FI01"] == "FI01"
    assert entities_file() == str(own / "entities.yaml")


def test_a_file_the_deployment_lacks_stays_the_packaged_one(own: Path) -> None:
    (own / "entities.yaml").write_text("entities: []\n", encoding="utf-8")
    assert mapping_file("matching.yaml") == MAPPINGS_DIR / "matching.yaml"
    assert load_matching_rules() is load_matching_rules(MAPPINGS_DIR / "matching.yaml")


def test_deployment_sap_layouts_join_the_packaged_ones(own: Path) -> None:
    (own / "sap" / "layouts").mkdir(parents=True)
    packaged = sorted(LAYOUTS_DIR.glob("*.yaml"))
    mine = yaml.safe_load(packaged[0].read_text(encoding="utf-8"))
    mine["name"] = "fbl5n_fi_own"
    (own / "sap" / "layouts" / "zz_fbl5n_fi_own.yaml").write_text(yaml.safe_dump(mine), encoding="utf-8")
    names = [layout.name for layout in load_layouts()]
    assert "fbl5n_fi_own" in names and len(names) == len(packaged) + 1


def test_a_deployment_folder_that_does_not_exist_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LETTRAGE__MAPPINGS_DIR", str(tmp_path / "missing"))
    with pytest.raises(MappingError, match="is not a folder"):
        mapping_file("entities.yaml")
