"""mappings/sage_fec/conventions.yaml validates; bad journal lists are refused with the reason, and the
opening journals reach the staging SQL as literals."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mappings.sage_fec import CONVENTIONS_PATH, FecConventions, load_fec_conventions
from warehouse import sql


def test_shipped_conventions_name_the_opening_journals() -> None:
    assert load_fec_conventions().opening_journals == ("AN", "RAN", "ANO", "OUV")
    assert FecConventions().opening_journals == ("AN", "RAN", "ANO", "OUV")  # the default without the key


INVALID = [
    ("quote in a code", {"opening_journals": ["AN'"]}, "journal code \"AN'\" must be"),
    ("empty code", {"opening_journals": [""]}, "journal code '' must be"),
    ("opening is also sales", {"opening_journals": ["AN", "VE"]}, r"opening_journals \['VE'\] are also sales"),
    ("opening is also bank", {"opening_journals": ["BQ"]}, r"opening_journals \['BQ'\] are also sales or bank"),
    ("typo in the key", {"openning_journals": ["AN"]}, "Extra inputs are not permitted"),
]


@pytest.mark.parametrize(("patch", "message"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_conventions(patch: dict[str, Any], message: str) -> None:
    raw = {**yaml.safe_load(CONVENTIONS_PATH.read_text(encoding="utf-8")), **patch}
    with pytest.raises(ValidationError, match=message):
        FecConventions.model_validate(raw)


@pytest.mark.parametrize(("journals", "expected"), [
    (("AN", "RAN"), "(l.journal_code IN ('AN', 'RAN'))"),
    ((), "FALSE"),  # no opening journal: nothing is carried forward
], ids=["some", "none"])
def test_opening_journals_render_as_a_condition(journals: tuple[str, ...], expected: str) -> None:
    rendered = sql.render("{{ fec_is_opening('l') }}", "duckdb",
                          fec_conventions=FecConventions(opening_journals=journals))
    assert rendered.strip() == expected
