"""mappings/sage_fec/conventions.yaml validates; bad journal lists and regular expressions are refused
with the reason, and the opening journals and the label pattern reach the staging SQL as literals."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from mappings.sage_fec import CONVENTIONS_PATH, INVOICE_NUMBER_IN_LABEL, FecConventions, load_fec_conventions
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
    ("label pattern without a group", {"invoice_number_in_label": r"F\d+"}, "has 0 groups, expected exactly 1"),
    ("label pattern with two groups", {"invoice_number_in_label": r"(F)(\d+)"}, "has 2 groups, expected exactly 1"),
    ("label pattern not compiling", {"invoice_number_in_label": r"(F\d+"}, "does not compile"),
    ("lookahead", {"invoice_number_in_label": r"(F\d+)(?=\s)"}, r"group '\(\?='… at 6 is not portable"),
    ("lookbehind", {"invoice_number_in_label": r"(?<=Facture )(\S+)"}, "is not portable"),
    ("named group", {"invoice_number_in_label": r"(?P<n>F\d+)"}, "is not portable"),
    ("inline flag not first", {"invoice_number_in_label": r"Facture (?i)(F\d+)"}, "does not compile|not portable"),
    ("scoped flag", {"invoice_number_in_label": r"(?i:facture) (F\d+)"}, "is not portable"),
    ("backreference", {"invoice_number_in_label": r"(F)\d+\1"}, r"escape \\1 at 6"),
    ("end of text as Python", {"invoice_number_in_label": r"(F\d+)\Z"}, r"escape \\Z"),
    ("lazy quantifier", {"invoice_number_in_label": r"Facture (.+?) "}, "lazy or possessive quantifier '\\+\\?'"),
    ("word boundary in a class", {"invoice_number_in_label": r"([\b\d]+)"}, r"escape \\b at 2"),
    ("piece pattern not compiling", {"piece_number_pattern": "^[0-9+$"}, "does not compile"),
    ("piece pattern lookahead", {"piece_number_pattern": "^(?!F)[0-9]+$"}, "is not portable"),
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


def test_shipped_label_pattern_and_piece_numbers() -> None:
    conventions = load_fec_conventions()
    assert conventions.invoice_number_in_label == INVOICE_NUMBER_IN_LABEL == FecConventions().invoice_number_in_label
    assert conventions.piece_number_pattern == "^[0-9]+$"
    assert FecConventions(invoice_number_in_label=None).invoice_number_in_label is None  # PieceRef is the number


VALID = [  # read alike by RE2 and Postgres: classes, POSIX classes, escaped punctuation, a leading (?i)
    ("posix class", r"(?i)facture ([[:alnum:]]+)"),
    ("bracket with ] first and escapes", r"Facture ([]\d/-]+)"),
    ("escaped parenthesis and quote", r"\(l'(\d+)\)"),
    ("bounded repeat", r"(F\d{2,4})"),
]


@pytest.mark.parametrize("pattern", [c[1] for c in VALID], ids=[c[0] for c in VALID])
def test_portable_label_patterns_are_accepted(pattern: str) -> None:
    assert FecConventions(invoice_number_in_label=pattern).invoice_number_in_label == pattern


@pytest.mark.parametrize(("engine", "expected"), [
    ("duckdb", r"regexp_extract(l.ecriture_lib, '(?i)\bd''(\d+)\b\\b', 1)"),
    ("postgres", r"(regexp_match(l.ecriture_lib, '(?i)\yd''(\d+)\y\\b'))[1]"),  # \\b: a backslash, then b
], ids=["duckdb", "postgres"])
def test_label_pattern_reaches_sql_as_a_literal(engine: str, expected: str) -> None:
    conventions = FecConventions(invoice_number_in_label=r"(?i)\bd'(\d+)\b\\b")
    rendered = sql.render("{{ fec_number_in_label('l') }}", engine, fec_conventions=conventions)
    assert expected in rendered
    assert sql.render("{{ fec_number_in_label('l') }}", engine,
                      fec_conventions=FecConventions(invoice_number_in_label=None)).strip() == "CAST(NULL AS TEXT)"
