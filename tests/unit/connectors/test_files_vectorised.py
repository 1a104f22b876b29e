"""The vectorised helpers of connectors/_files.py: each fast path agrees with the plain rule."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from connectors._files import (
    clean_text,
    constant_column,
    is_blank_row,
    list_files,
    parse_amounts,
    parse_ints,
)
from connectors.sage_fec.parse import SeenKeys
from connectors.sap_export.parse import _alpha_column, alpha


@pytest.mark.parametrize(
    "arr",
    [
        pa.chunked_array([pa.array([" a ", "", "  ", None, "b", "\u00a0x\u00a0"]), pa.array(["", "c"])]),
        pa.array(["x", " y", "", None]).slice(1),  # an offset array takes the copying path
        pa.array(["plain", "text"]),
        pa.chunked_array([], pa.string()),
    ],
    ids=["chunked-mixed", "sliced", "no-empties", "no-chunks"],
)
def test_clean_text_trims_and_nulls_empties(arr: pa.Array | pa.ChunkedArray) -> None:
    got = clean_text(arr)
    values = arr.to_pylist()
    expected = [None if v is None or not v.strip() else v.strip() for v in values]
    assert got.to_pylist() == expected
    assert got.null_count == expected.count(None)
    (got.combine_chunks() if isinstance(got, pa.ChunkedArray) else got).validate(full=True)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([("a", "b"), ("", ""), ("c", "")], [False, True, False]),
        ([("", "x"), ("", "")], [False, True]),  # empty first column alone is not blank
        ([("a", "b")], [False]),
        ([], []),
    ],
    ids=["blank-middle", "first-column-empty", "none-blank", "empty-table"],
)
def test_is_blank_row(rows: list[tuple[str, str]], expected: list[bool]) -> None:
    table = pa.table({f"c{i}": pa.array([r[i] for r in rows], pa.string()) for i in range(2)})
    assert is_blank_row(table).tolist() == expected


@pytest.mark.parametrize(
    ("value", "type_"), [("abc", pa.string()), (None, pa.string()), (1, pa.int64())],
    ids=["text", "null", "int"],
)
def test_constant_column(value: object, type_: pa.DataType) -> None:
    col = constant_column(value, 4, type_)
    assert col.type == type_ and col.to_pylist() == [value] * 4
    assert len(constant_column(value, 0, type_)) == 0


def test_amounts_batch_with_good_bad_signed_and_empty_values() -> None:
    """One batch mixing every case, so masks of good, trailing-minus and bad rows stay aligned."""
    text = ["1.234,56-", "", "abc", "-12,5", "+3", "7,00", "-1,00-", " 8,10 ", "1.23,4"]
    values, bad = parse_amounts(pa.array(text), decimal_sep=",", group_seps=".")
    assert [None if v is None else str(v) for v in values.to_pylist()] == [
        "-1234.56", None, None, "-12.50", "3.00", "7.00", None, "8.10", None]
    assert bad.tolist() == [False, False, True, False, False, False, True, False, True]


def test_zeros_past_two_decimals_are_no_fraction() -> None:
    """A three-decimal currency's amount as its ERP writes it (12,340 KWD in a FEC's Montantdevise) is 12.34 exactly:
    it was refused, and the invoice never loaded. A third decimal that is not zero is still refused, never rounded."""
    values, bad = parse_amounts(pa.array(["12,340", "12,345", "-25,6700", "1.000,500"]), decimal_sep=",",
                                group_seps=".")
    assert [None if v is None else str(v) for v in values.to_pylist()] == ["12.34", None, "-25.67", "1000.50"]
    assert bad.tolist() == [False, True, False, False]


def test_amounts_all_good_take_the_short_path() -> None:
    values, bad = parse_amounts(pa.array(["1,00", "2,50-", "3"] * 3), decimal_sep=",")
    assert [str(v) for v in values.to_pylist()[:3]] == ["1.00", "-2.50", "3.00"] and not bad.any()


@pytest.mark.parametrize(
    ("text", "value", "is_bad"),
    [("30", 30, False), (" 7 ", 7, False), ("", None, False), ("-5", None, True), ("12a", None, True),
     ("1234567890", None, True)],
    ids=["plain", "padded", "empty", "negative", "letters", "ten-digits"],
)
def test_parse_ints(text: str, value: int | None, is_bad: bool) -> None:
    values, bad = parse_ints(pa.array([text, "30", text]))  # repeats exercise the dictionary spread-back
    assert values.to_pylist() == [value, 30, value] and bad.tolist() == [is_bad, False, is_bad]


@pytest.mark.parametrize(
    "text", ["123", " 1000123 ", "0123456789", "12345678901", "12a", "", "A-1"],
    ids=["short", "padded", "ten", "eleven", "alnum", "empty", "dash"],
)
def test_alpha_column_matches_alpha(text: str) -> None:
    expected = alpha(text) or None
    assert _alpha_column(pa.array([text])).to_pylist() == [expected]


def test_alpha_column_pads_ascii_digits_only() -> None:
    """SAP keys are ASCII; other Unicode digits are kept as written, as the earlier regex did."""
    assert _alpha_column(pa.array(["\u0661\u0662"])).to_pylist() == ["\u0661\u0662"]


def test_seen_keys() -> None:
    seen = SeenKeys()
    keys = pa.array(["VE\x1f1", "VE\x1f2"])
    assert not seen.contains(keys).any() and len(seen) == 0
    seen.add(keys)
    seen.add(pa.array(["BQ\x1f1"]))
    assert seen.contains(pa.array(["VE\x1f2", "VE\x1f3", "BQ\x1f1"])).tolist() == [True, False, True]
    other = SeenKeys()
    other.add_all(seen)
    assert len(other) == 3 and np.array_equal(other.contains(keys), [True, True])


@pytest.mark.parametrize(
    ("data", "limit", "expected"),
    [
        (b"\xef\xbb\xbfJournalCode\tx\n", 16, "utf-8-sig"), ("Soci\u00e9t\u00e9;x\n".encode(), 12, "utf-8"),
        ("Soci\u00e9t\u00e9;x\n".encode("iso-8859-15"), 10, "iso-8859-15"),
        ("\u0152uvre \u20ac;x\n".encode("cp1252"), 10, "cp1252"),
        (b"a" * 9 + "\u00e9".encode(), 10, "utf-8"),  # a character cut by the limit is not an error
    ],
    ids=["bom", "utf8", "latin9", "windows-1252", "cut-character"],
)
def test_sniff_encoding_reads_only_the_head(tmp_path: Path, data: bytes, limit: int, expected: str) -> None:
    from connectors._files import sniff_encoding

    path = tmp_path / "f.txt"
    path.write_bytes(data + b"\xff" * 100)  # invalid UTF-8 past the limit is not looked at
    assert sniff_encoding(path, limit=limit) == expected


def test_folder_listing_ignores_the_case_of_the_pattern(tmp_path: Path) -> None:
    for name in ("BSID_DE01.CSV", "bsad.csv", "Statement.XML", "notes.md"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert [p.name for p in list_files(tmp_path, "*.csv")] == ["BSID_DE01.CSV", "bsad.csv"]
    assert [p.name for p in list_files(tmp_path, "*.xml")] == ["Statement.XML"]


def test_files_a_source_does_not_read_are_named_in_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from connectors._files import warn_unread

    for name in ("FBL5N.xlsx", "FBL5N_old.xls", "statements.zip", ".DS_Store"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    with caplog.at_level("WARNING", logger="lettrage.connectors.files"):
        unread = warn_unread("sap_export", tmp_path, [tmp_path / "FBL5N.xlsx"])
    assert [p.name for p in unread] == ["FBL5N_old.xls", "statements.zip"]
    assert "sap_export: 2 file(s)" in caplog.text and "FBL5N_old.xls, statements.zip" in caplog.text
    assert warn_unread("sap_export", tmp_path / "FBL5N.xlsx", []) == []  # a file or glob: nothing to warn about


@pytest.mark.parametrize(
    ("c1", "expected"),
    [(b"", "iso-8859-15"), (b"\x80", "cp1252"), (b"\x92\x8c\x96", "cp1252"), (b"\x80\x81", "iso-8859-15")],
    ids=["no-c1-bytes", "euro", "quote-oe-dash", "undefined-in-cp1252"],
)
def test_legacy_encoding_from_c1_bytes(tmp_path: Path, c1: bytes, expected: str) -> None:
    """Not UTF-8: a byte 0x80-0x9F means Windows-1252, unless cp1252 cannot decode it."""
    from connectors._files import legacy_encoding, scan_file

    assert legacy_encoding(c1) == expected
    path = tmp_path / "f.txt"
    path.write_bytes(b"a;\xe9;" + c1 + b"\n")  # 0xE9 alone is not UTF-8
    assert scan_file(path).encoding == expected


def test_a_file_mixing_utf8_with_a_stray_byte_is_named_with_its_line(tmp_path: Path,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    """One Latin-1 byte in a UTF-8 export: not UTF-8, so read whole as 8-bit (every accent written in UTF-8 then
    reads "Ã©"); the warning says so, with the line and byte to look at. A plain Windows-1252 export is only noted."""
    from connectors._files import scan_file

    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes("Société CLI001\n".encode() + b"ligne 2\nTVA collect\xe9e\n")
    plain = tmp_path / "plain.txt"
    plain.write_bytes("Société CLI001\nTVA collectée\n".encode("cp1252"))
    with caplog.at_level(logging.INFO, logger="lettrage.connectors"):
        assert scan_file(mixed).encoding == "iso-8859-15"
        assert scan_file(plain).encoding == "iso-8859-15"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "mixed.txt mixes UTF-8" in warned[0] and "(line 3, byte 0xE9)" in warned[0]
    assert any("plain.txt is not valid UTF-8 (line 1, byte 0xE9)" in r.getMessage() for r in caplog.records)
