"""SAP line-item exports saved as workbooks (.xlsx): typed cells read as their layout's text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from connectors._files import Quarantine
from connectors.sap_export.parse import detect_layout, iter_items
from connectors.sap_export.workbook import workbook_as_text
from lettrage.errors import WrongFormat
from mappings.entities import load_entities
from mappings.sap import load_layouts
from tests.fixtures.golden import FIXTURES
from tests.fixtures.sap_workbook import workbook_of

SAP = FIXTURES / "sap_export"
def _parse(path: Path, tmp: Path) -> tuple[list[dict[str, Any]], Quarantine]:
    text = workbook_as_text(path, load_layouts(), tmp) if path.suffix == ".xlsx" else path
    match = detect_layout(text, load_layouts(), "utf-8")
    q = Quarantine("sap_export", "DE01", path.name)
    rows = [r for t in iter_items(text, file_hash="h", encoding="utf-8", match=match,
                                  company_codes=load_entities().by_company_code(), quarantine=q)
            for r in t.to_pylist()]
    return rows, q


def test_workbook_reads_like_the_same_export_as_text(tmp_path: Path) -> None:
    csv_path = SAP / "fbl5n_en_export.csv"
    book = workbook_of(csv_path, tmp_path / "FBL5N_DE01.xlsx")
    (tmp_path / "out").mkdir()
    from_book, q = _parse(book, tmp_path / "out")
    from_text, _ = _parse(csv_path, tmp_path)
    assert not q.rows and from_book
    assert [{k: v for k, v in r.items() if k != "source_file"} for r in from_book] == \
        [{k: v for k, v in r.items() if k != "source_file"} for r in from_text]
    assert {r["source_file"] for r in from_book} == {"FBL5N_DE01.xlsx"}


def test_bad_row_of_a_workbook_is_quarantined_with_its_row_number(tmp_path: Path) -> None:
    bad = ["DE01", 1000003, None, 90000009, "RV", "not a date", None, None, 30, 10.5, "EUR", 10.5, None, None,
           "RE-9", "x", 2025, 1]
    book = workbook_of(SAP / "fbl5n_en_export.csv", tmp_path / "FBL5N.xlsx", extra=[bad])
    (tmp_path / "out").mkdir()
    rows, q = _parse(book, tmp_path / "out")
    assert len(rows) == 2
    assert [(line, field) for line, field, _, _ in q.rows] == [(4, "BLDAT")]


def test_workbook_with_an_unknown_header_is_refused(tmp_path: Path) -> None:
    book = Workbook()
    book.active.append(["Datum", "Betrag"])
    book.save(tmp_path / "x.xlsx")
    with pytest.raises(WrongFormat, match="header cells"):
        workbook_as_text(tmp_path / "x.xlsx", load_layouts(), tmp_path)
