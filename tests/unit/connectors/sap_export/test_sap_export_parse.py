"""SAP line-item parsing by declared layout: golden samples, formats, due dates, layout validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import ValidationError

from connectors._files import Quarantine, parse_amounts, parse_dates, scan_file
from connectors.sap_export.parse import (
    alpha,
    detect_layout,
    identify,
    identify_customers,
    iter_items,
    parse_customers,
)
from lettrage.errors import WrongFormat
from mappings.entities import load_entities
from mappings.sap import SapLayout, load_layouts, load_sap_customers_mapping
from tests.fixtures.golden import FIXTURES, assert_golden, samples

SAP = FIXTURES / "sap_export"


def parse_sample(path: Path) -> dict[str, Any]:
    scanned = scan_file(path)
    quarantine = Quarantine("sap_export", "DE01", path.name)
    mapping = load_sap_customers_mapping()
    try:
        if identify_customers(path, mapping):
            table = parse_customers(path, entity="DE01", encoding=scanned.encoding, mapping=mapping, quarantine=quarantine)
            rows, layout = table.to_pylist(), "customers"
        else:
            match = detect_layout(path, load_layouts(), scanned.encoding)
            layout = match.layout.name
            rows = [r for t in iter_items(path, file_hash="h", encoding=scanned.encoding, match=match,
                                          company_codes=load_entities().by_company_code(), quarantine=quarantine)
                    for r in t.to_pylist()]
    except WrongFormat as exc:
        return {"error": str(exc).replace(str(path), path.name)}
    quarantined = sorted(quarantine.to_table().to_pylist(), key=lambda r: (r["line"], r["field"] or ""))
    return {"layout": layout, "encoding": scanned.encoding, "rows": rows, "quarantine": quarantined}


@pytest.mark.parametrize("sample", samples("sap_export"), ids=lambda p: p.name)
def test_sample_matches_golden(sample: Path) -> None:
    assert_golden(sample, parse_sample(sample))


@pytest.mark.parametrize(
    ("name", "layout"),
    [("BSID_DE01_20250331.csv", "technical"), ("fbl5n_de_export.csv", "fbl5n_de"),
     ("fbl5n_en_export.csv", "fbl5n_en"), ("bsid_se16n_download.txt", "internal"),
     ("fbl5n_en_gb_export.csv", "fbl5n_en_gb"), ("fbl5n_en_tabs_export.txt", "fbl5n_en_dotted")],
    ids=["technical", "fbl5n-german", "fbl5n-english", "internal-table-download", "fbl5n-english-uk-day-first",
         "fbl5n-english-text-with-tabs"],
)
def test_layout_recognised_from_header(name: str, layout: str) -> None:
    path = SAP / name
    assert detect_layout(path, load_layouts(), scan_file(path).encoding).layout.name == layout
    assert identify(path, load_layouts())


def test_same_document_reads_the_same_in_every_layout() -> None:
    """Invoice 90000001 in four layouts: same keys, amount, sign and net due date."""
    seen = set()
    for name in ("BSID_DE01_20250331.csv", "fbl5n_de_export.csv", "bsid_se16n_download.txt"):
        row = next(r for r in parse_sample(SAP / name)["rows"] if r["document_number"] == "0090000001")
        seen.add((row["customer"], row["fiscal_year"], row["line_item"], str(row["amount"]), row["debit_credit"],
                  row["net_due_date"].isoformat()))
    assert seen == {("0001000001", 2025, 1, "1190.00", "S", "2025-02-14")}


def test_unknown_layout_lists_file_columns() -> None:
    path = SAP / "unknown_layout.csv"
    with pytest.raises(WrongFormat) as info:
        detect_layout(path, load_layouts(), "utf-8")
    assert "['Datum', 'Kunde', 'Betrag']" in str(info.value) and "technical" in str(info.value)


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("1.234,56", "1.234,56", "1234.56"), ("1.234,56", "1.234,56-", "-1234.56"), ("1.234,56", "12,5", "12.50"),
        ("1,234.56", "1,234.56", "1234.56"), ("1,234.56", "-1,234.56", "-1234.56"),
        ("1 234,56", "1 234 567,89", "1234567.89"), ("1 234,56", "1\u00a0234,56", "1234.56"),
        ("internal", "1234.56", "1234.56"), ("internal", "0.5", "0.50"),
        ("1.234,56", "1.23,4", None), ("1,234.56", "1,23.4", None), ("internal", "12,34", None),
        ("1.234,56", "-1,00-", None), ("1.234,56", "abc", None),
    ],
    ids=["de", "de-trailing-minus", "de-short", "us", "us-leading-minus", "fr-space", "fr-nbsp", "internal",
         "internal-short", "de-bad-grouping", "us-bad-grouping", "internal-comma", "double-sign", "letters"],
)
def test_number_formats(fmt: str, text: str, expected: str | None) -> None:
    from mappings.sap import NUMBER_FORMATS

    dec, groups = NUMBER_FORMATS[fmt]
    values, bad = parse_amounts(pa.array([text]), decimal_sep=dec, group_seps=groups)
    if expected is None:
        assert bad[0] and values[0].as_py() is None
    else:
        assert not bad[0] and str(values[0].as_py()) == expected


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("dd.mm.yyyy", "31.12.2025", "2025-12-31"), ("mm/dd/yyyy", "12/31/2025", "2025-12-31"),
        ("dd/mm/yyyy", "31/12/2025", "2025-12-31"), ("dd/mm/yyyy", "12/31/2025", None),
        ("yyyy-mm-dd", "2025-12-31", "2025-12-31"), ("yyyy.mm.dd", "2025.12.31", "2025-12-31"),
        ("yyyy/mm/dd", "2025/12/31", "2025-12-31"), ("mm-dd-yyyy", "12-31-2025", "2025-12-31"),
        ("YYYYMMDD", "20251231", "2025-12-31"), ("YYYYMMDD", "00000000", ""), ("dd.mm.yyyy", "", ""),
        ("dd.mm.yyyy", "31.02.2025", None), ("mm/dd/yyyy", "31/12/2025", None), ("YYYYMMDD", "2025123", None),
    ],
    ids=["de", "us", "uk", "uk-refuses-us", "iso", "dots", "slashes", "us-dashes", "internal", "internal-empty",
         "empty", "impossible-day", "swapped-day-month", "short"],
)
def test_date_formats(fmt: str, text: str, expected: str | None) -> None:
    from mappings.sap import DATE_FORMATS

    values, bad = parse_dates(pa.array([text]), DATE_FORMATS[fmt])
    if expected is None:
        assert bad[0]
    else:
        assert not bad[0]
        assert (values[0].as_py().isoformat() if values[0].as_py() else "") == expected


def _items(tmp_path: Path, rows: list[str]) -> list[dict[str, Any]]:
    header = "BUKRS;KUNNR;GJAHR;BELNR;BUZEI;BLART;BLDAT;BUDAT;ZFBDT;ZBD1T;ZBD2T;ZBD3T;WAERS;WRBTR;DMBTR;SHKZG;NETDT"
    path = tmp_path / "items.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    match = detect_layout(path, load_layouts(), "utf-8")
    q = Quarantine("sap_export", None, path.name)
    out = [r for t in iter_items(path, file_hash="h", encoding="utf-8", match=match,
                                 company_codes={"DE01": "DE01"}, quarantine=q) for r in t.to_pylist()]
    assert not q.rows, q.rows
    return out


@pytest.mark.parametrize(
    ("dates_terms", "expected"),
    [
        ("10.01.2025;10.01.2025;15.01.2025;14;30;0;", "2025-02-14"),  # ZFBDT + longest term (ZBD2T)
        ("10.01.2025;10.01.2025;15.01.2025;0;0;60;", "2025-03-16"),  # net term in ZBD3T
        ("10.01.2025;10.01.2025;;30;0;0;", "2025-02-09"),  # no baseline: document date
        ("10.01.2025;10.01.2025;15.01.2025;0;0;0;", "2025-01-15"),  # due immediately
        ("10.01.2025;10.01.2025;15.01.2025;14;30;0;28.02.2025", "2025-02-28"),  # the file's NETDT wins
    ],
    ids=["zbd2t", "zbd3t", "bldat-baseline", "immediate", "netdt-given"],
)
def test_net_due_date(tmp_path: Path, dates_terms: str, expected: str) -> None:
    bldat, budat, zfbdt, z1, z2, z3, netdt = dates_terms.split(";")
    row = f"DE01;1;2025;1;1;RV;{bldat};{budat};{zfbdt};{z1};{z2};{z3};EUR;1,00;1,00;S;{netdt}"
    assert _items(tmp_path, [row])[0]["net_due_date"].isoformat() == expected


def test_shkzg_signs_amounts(tmp_path: Path) -> None:
    rows = _items(tmp_path, ["DE01;1;2025;1;1;RV;10.01.2025;;;0;0;0;EUR;1.000,00;1.000,00;S;",
                             "DE01;1;2025;2;1;DZ;10.01.2025;;;0;0;0;EUR;1.000,00;1.000,00;H;"])
    assert [(str(r["amount"]), r["debit_credit"]) for r in rows] == [("1000.00", "S"), ("-1000.00", "H")]


@pytest.mark.parametrize(("value", "expected"), [("1000123", "0001000123"), ("0001000123", "0001000123"),
                                                 ("CUST-1", "CUST-1"), (" 42 ", "0000000042")],
                         ids=["pad", "already-padded", "alphanumeric-kept", "trimmed"])
def test_alpha_conversion(value: str, expected: str) -> None:
    assert alpha(value) == expected


BASE_LAYOUT: dict[str, Any] = {
    "name": "x", "number_format": "internal", "date_format": "YYYYMMDD", "sign": "shkzg",
    "columns": {"BUKRS": "B", "KUNNR": "K", "BELNR": "N", "WAERS": "W", "WRBTR": "A", "SHKZG": "S", "BLDAT": "D"},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"columns": {**BASE_LAYOUT["columns"], "FOO": "x"}}, "unknown canonical fields ['FOO']"),
        ({"columns": {k: v for k, v in BASE_LAYOUT["columns"].items() if k != "KUNNR"}}, "must map ['KUNNR']"),
        ({"columns": {k: v for k, v in BASE_LAYOUT["columns"].items() if k != "BUKRS"}}, "needs BUKRS"),
        ({"columns": {k: v for k, v in BASE_LAYOUT["columns"].items() if k != "SHKZG"}}, "maps no SHKZG"),
        ({"date_format": "dd/mm/yy"}, "date_format"),
        ({"number_format": "1'234.56"}, "number_format"),
        ({"delimiter": ",", "delimiters": [",", "\t"]}, "either delimiter or delimiters"),
        ({"delimiters": []}, "at least one delimiter"),
        ({"delimiters": [",", ";;"]}, "one character"),
        ({"delimiters": [",", ","]}, "delimiters repeated"),
        ({"delimiters": [",", '"']}, "quote character"),
    ],
    ids=["unknown-field", "missing-customer", "missing-company-code", "shkzg-sign-without-column",
         "unknown-date-format", "unknown-number-format", "delimiter-and-delimiters", "no-delimiter",
         "long-delimiter", "repeated-delimiter", "quote-as-delimiter"],
)
def test_invalid_layouts_are_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        SapLayout.model_validate({**BASE_LAYOUT, **change})
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("change", "delimiters"),
    [({}, (";",)), ({"delimiter": ","}, (",",)), ({"delimiters": [",", "\t"]}, (",", "\t"))],
    ids=["default", "one-delimiter-short-form", "several"],
)
def test_layout_delimiters(change: dict[str, Any], delimiters: tuple[str, ...]) -> None:
    layout = SapLayout.model_validate({**BASE_LAYOUT, **change})
    assert layout.delimiters == delimiters and layout.delimiter == delimiters[0]


def test_company_code_default_makes_a_layout_valid() -> None:
    cols = {k: v for k, v in BASE_LAYOUT["columns"].items() if k != "BUKRS"}
    layout = SapLayout.model_validate({**BASE_LAYOUT, "columns": cols, "defaults": {"BUKRS": "DE01"}})
    assert layout.defaults["BUKRS"] == "DE01"


def test_shipped_layouts_load() -> None:
    layouts = {la.name: la for la in load_layouts()}
    assert set(layouts) >= {"technical", "fbl5n_de", "fbl5n_en", "fbl5n_en_gb", "fbl5n_en_dotted", "internal"}
    assert all("\t" in layouts[n].delimiters for n in ("fbl5n_en", "fbl5n_en_gb", "fbl5n_en_dotted"))


def _keys_table(docs: list[str], lines: list[int]) -> pa.Table:
    n = len(docs)
    return pa.table({"entity": ["DE01"] * n, "company_code": ["DE01"] * n, "fiscal_year": pa.array([2025] * n, pa.int64()),
                     "document_number": docs, "line_item": pa.array(lines, pa.int64()),
                     "line_no": pa.array(range(2, n + 2), pa.int64())})


@pytest.mark.parametrize(
    ("batches", "kept"),
    [
        ([(["0090000001", "0090000002"], [1, 1])], [2]),
        ([(["0090000001", "0090000001"], [1, 2])], [2]),
        ([(["0090000001", "0090000001"], [1, 1])], [1]),
        ([(["0090000001"], [1]), (["0090000001", "0090000003"], [1, 1])], [1, 1]),
        ([(["ABC-1", "ABC-1"], [1, 1]), (["ABC-1"], [1])], [1, 0]),
        ([(["0090000001"], [1000]), (["0090000001"], [1000])], [1, 0]),
    ],
    ids=["distinct", "same-doc-other-line", "dup-in-batch", "dup-across-batches", "non-numeric-doc-hashed",
         "line-over-999-hashed"],
)
def test_run_keys_drop_repeated_keys(batches: list[tuple[list[str], list[int]]], kept: list[int]) -> None:
    from connectors._files import RunKeys
    from connectors.sap_export.parse import pack_item_keys

    run_keys, codes, q = RunKeys(), {}, Quarantine("sap_export", "DE01", "f")
    key = ("entity", "company_code", "fiscal_year", "document_number", "line_item")
    out = [run_keys.keep_new(t, key, q, packed=pack_item_keys(t, codes)).num_rows
           for t in (_keys_table(d, li) for d, li in batches)]
    assert out == kept
    assert len(q.rows) == sum(len(d) for d, _ in batches) - sum(kept)
    assert all("same key" in r[2] for r in q.rows)


FBL5N_HEADER = ("Buchungskreis;Konto;Zuordnung;Belegnummer;Belegart;Belegdatum;Nettofälligkeit;"
                "Betrag in Hauswährung;Hauswährung;Betrag in Belegwährung;Währung;Ausgleichsbeleg;Ausgleichsdatum;Text;Referenz")


def _fbl5n(tmp_path: Path, lines: list[str]) -> tuple[Any, list[dict[str, Any]], Quarantine]:
    path = tmp_path / "FBL5N_1000.txt"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))
    scanned = scan_file(path)
    match = detect_layout(path, load_layouts(), scanned.encoding)
    q = Quarantine("sap_export", "DE01", path.name)
    rows = [r for t in iter_items(path, file_hash="h", encoding=scanned.encoding, match=match, company_codes={},
                                  quarantine=q, default_entity="DE01") for r in t.to_pylist()]
    return match, rows, q


def test_fbl5n_list_with_title_lines_totals_and_residual_item(tmp_path: Path) -> None:
    """An FBL5N list as saved from the GUI: title lines above the header, ALV (sub)total lines, and a
    payment document with a residual item (two lines, one document, no line-item column)."""
    match, rows, q = _fbl5n(tmp_path, [
        "Debitoren Einzelpostenliste",
        "Buchungskreis 1000  Musterwerk GmbH   Stichtag 03.04.2024",
        "",
        FBL5N_HEADER,
        "1000;100238;90001273;1800000173;RV;10.01.2024;09.02.2024;  2.050,00;EUR;2.050,00;EUR;1400000500;05.02.2024;;"
        "0090001273",
        "1000;100238;90001273;1400000500;DZ;05.02.2024;05.02.2024;  2.050,00-;EUR;2.050,00-;EUR;1400000500;05.02.2024;"
        "Zahlungseingang;",
        "1000;100238;90001273;1400000500;DZ;05.02.2024;05.02.2024;  50,00;EUR;50,00;EUR;;;Restposten;",
        ";100238;;;;;;* 50,00;EUR;50,00;EUR;;;;",
        "",
        ";;;;;;;** 50,00;EUR;;;;;;",
        "1000;100238;90001274;1800000174;RV;XX.01.2024;09.02.2024;  1,00;EUR;1,00;EUR;;;;0090001274",
    ])
    assert (match.layout.name, match.header_line) == ("fbl5n_de", 4)
    assert [(r["document_number"], r["line_item"], str(r["amount"]), r["line_no"]) for r in rows] == [
        ("1800000173", 1, "2050.00", 5), ("1400000500", 1, "-2050.00", 6), ("1400000500", 2, "50.00", 7)]
    # totals and blank lines are neither loaded nor quarantined; a bad row names its physical line
    assert {(line, fld) for line, fld, _, _ in q.rows} == {(11, "BLDAT"), (11, "GJAHR")}


def test_an_fbl5n_list_printed_in_pages_loads_its_items_and_quarantines_only_bad_ones(tmp_path: Path) -> None:
    """An "unconverted" list: rule lines around the header and between pages, each page opening with the list's title
    lines and its header again, a grand total cut short. Its layout is no bad row (39 quarantined records for a
    two-page list had buried its one bad date); a row with the wrong number of columns still is."""
    title = ["Debitoren Einzelpostenliste;;;;;;;;;;;;Seite {}", "Buchungskreis 1000  Musterwerk GmbH   Stichtag 03.04.2024"]
    rule = "-" * 120
    match, rows, q = _fbl5n(tmp_path, [
        *(line.format(1) for line in title), rule, FBL5N_HEADER, rule,
        "1000;100238;90001273;1800000173;RV;10.01.2024;09.02.2024;2.050,00;EUR;2.050,00;EUR;;;;0090001273",
        rule, "", *(line.format(2) for line in title), rule, FBL5N_HEADER, rule,
        "1000;100238;90001274;1800000174;RV;31.09.2024;09.02.2024;1,00;EUR;1,00;EUR;;;;0090001274",
        "1000;100239;90001275;1800000175;RV;12.01.2024;11.02.2024;3,00;EUR;3,00;EUR;;;;0090001275",
        "1000;100239;90001276;1800000176;RV;12.01.2024",
        rule, ";;;;;;;** 2.054,00;EUR",
    ])
    assert match.header_line == 4
    assert [r["document_number"] for r in rows] == ["1800000173", "1800000175"]
    # the bad date (line 14) and the row cut short (line 16), nothing of the pages' layout
    assert sorted({line for line, _, _, _ in q.rows}) == [14, 16]


def test_fbl5n_subtotal_lines_marked_in_another_column_are_skipped(tmp_path: Path) -> None:
    """Some lists mark a customer's subtotal with '*' in a column of its own (here the assignment column,
    where a status icon column would be) and print the amount plainly: still a total line, not a row."""
    match, rows, q = _fbl5n(tmp_path, [
        FBL5N_HEADER,
        "1000;100238;90001273;1800000173;RV;10.01.2024;09.02.2024;2.050,00;EUR;2.050,00;EUR;;;;0090001273",
        ";100238;;;;;;2.050,00;EUR;2.050,00;EUR;;;;*",
        ";;;;;;;2.050,00;EUR;;;;;;**",
    ])
    assert [r["document_number"] for r in rows] == ["1800000173"] and not q.rows


def test_fbl5n_saved_by_windows_in_cp1252_with_ctrl_z(tmp_path: Path) -> None:
    """A list saved by Excel/Windows: cp1252 punctuation (bytes 0x80-0x9F) and a closing Ctrl-Z."""
    text = "Kunde\u2019s Zahlung \u2013 50 \u20ac \u0152uvre"
    match, rows, q = _fbl5n(tmp_path, [
        FBL5N_HEADER,
        f"1000;100238;;1400000500;DZ;05.02.2024;05.02.2024;50,00;EUR;50,00;EUR;;;{text};",
        "\x1a",
    ])
    assert scan_file(tmp_path / "FBL5N_1000.txt").encoding == "cp1252"
    assert [r["text"] for r in rows] == [text] and not q.rows


def test_line_numbering_continues_across_batches(tmp_path: Path) -> None:
    path = tmp_path / "fbl5n.csv"
    doc = "1000;100238;;1400000500;DZ;05.02.2024;05.02.2024;1,00;EUR;1,00;EUR;;;;"
    path.write_text(FBL5N_HEADER + "\n" + "\n".join([doc] * 5) + "\n", encoding="utf-8")
    match = detect_layout(path, load_layouts(), "utf-8")
    q = Quarantine("sap_export", "DE01", path.name)
    rows = [r for t in iter_items(path, file_hash="h", encoding="utf-8", match=match, company_codes={},
                                  quarantine=q, default_entity="DE01", batch_rows=2) for r in t.to_pylist()]
    assert [r["line_item"] for r in rows] == [1, 2, 3, 4, 5] and not q.rows


def test_no_header_in_the_first_lines_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("\n".join(["Debitoren Einzelpostenliste"] * 40 + [FBL5N_HEADER]) + "\n", encoding="utf-8")
    with pytest.raises(WrongFormat) as info:
        detect_layout(path, load_layouts(), "utf-8")
    assert "['Debitoren Einzelpostenliste']" in str(info.value)


EN_HEADER = ("Company Code,Customer,Document Number,Document Type,Document Date,Posting Date,Net due date,"
             "Amount in doc. curr.,Currency,Clearing date,Text")


def _en_rows(dates: list[str], delimiter: str = ",") -> list[str]:
    """English FBL5N rows, one per document date (the net due date and clearing date are the same)."""
    return [delimiter.join(["DE01", "1000003", f"9000{i:04d}", "RV", d, d, d, '"1,234.56"', "GBP", d, '"Invoice, net"'])
            for i, d in enumerate(dates)]


def _en_file(tmp_path: Path, rows: list[str], delimiter: str = ",", title: list[str] | None = None) -> Path:
    path = tmp_path / "FBL5N_UK01.txt"
    header = EN_HEADER.replace(",", delimiter)
    path.write_text("\n".join([*(title or []), header, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("dates", "layout"),
    [
        # the first 120 rows read both ways; row 121 has a day above 12 and decides
        (["03/04/2026"] * 120 + ["03/15/2026"], "fbl5n_en"),
        (["03/04/2026"] * 120 + ["15/03/2026"], "fbl5n_en_gb"),
        (["15.03.2026", "01.04.2026"], "fbl5n_en_dotted"),
        # a stray US date among UK ones: the format that parses most of the sample wins
        (["15/03/2026"] * 10 + ["03/31/2026"], "fbl5n_en_gb"),
    ],
    ids=["us-decided-deep-in-the-sample", "uk-decided-deep-in-the-sample", "uk-dotted", "most-dates-win"],
)
def test_date_order_is_decided_by_the_rows(tmp_path: Path, dates: list[str], layout: str) -> None:
    path = _en_file(tmp_path, _en_rows(dates))
    assert detect_layout(path, load_layouts(), "utf-8").layout.name == layout


def test_uk_dates_load_day_first(tmp_path: Path) -> None:
    path = _en_file(tmp_path, _en_rows(["05/03/2026", "15/03/2026"]))
    match = detect_layout(path, load_layouts(), "utf-8")
    q = Quarantine("sap_export", "DE01", path.name)
    rows = [r for t in iter_items(path, file_hash="h", encoding="utf-8", match=match, company_codes={"DE01": "DE01"},
                                  quarantine=q) for r in t.to_pylist()]
    assert [r["document_date"].isoformat() for r in rows] == ["2026-03-05", "2026-03-15"] and not q.rows


def test_tab_separated_list_with_title_lines(tmp_path: Path) -> None:
    """The GUI's "text with tabs" download of an English FBL5N: title lines, TAB, a quoted amount."""
    rows = [r.replace('"1,234.56"', "1,234.56-") for r in _en_rows(["15.03.2026", "01.04.2026"], "\t")]
    path = _en_file(tmp_path, rows, "\t", title=["Customer Line Item Display", "", "Company Code\tDE01", ""])
    match = detect_layout(path, load_layouts(), "utf-8")
    assert (match.layout.name, match.delimiter, match.header_line) == ("fbl5n_en_dotted", "\t", 5)
    q = Quarantine("sap_export", "DE01", path.name)
    out = [r for t in iter_items(path, file_hash="h", encoding="utf-8", match=match, company_codes={"DE01": "DE01"},
                                 quarantine=q) for r in t.to_pylist()]
    assert [(str(r["amount"]), r["line_no"], r["text"]) for r in out] == [
        ("-1234.56", 6, "Invoice, net"), ("-1234.56", 7, "Invoice, net")] and not q.rows


def test_a_layout_whose_dates_fail_does_not_win(tmp_path: Path) -> None:
    """ISO dates under English headers: every English layout fits the header, none the dates."""
    path = _en_file(tmp_path, _en_rows(["2026-03-15", "2026-04-01"]))
    with pytest.raises(WrongFormat) as info:
        detect_layout(path, load_layouts(), "utf-8")
    assert "fbl5n_en_gb: dd/mm/yyyy" in str(info.value) and "'2026-03-15'" in str(info.value)


def test_ambiguous_date_order_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _en_file(tmp_path, _en_rows(["03/04/2026", "05/06/2026"]))
    with caplog.at_level("WARNING", logger="lettrage.connectors.sap_export"):
        assert detect_layout(path, load_layouts(), "utf-8").layout.name == "fbl5n_en"
    assert "read both as mm/dd/yyyy (layout fbl5n_en) and as dd/mm/yyyy (layout fbl5n_en_gb)" in caplog.text


def test_wrong_format_names_the_header_like_line_not_the_title(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("Customer Line Item Display\n\nCompany Code\tUK01\n\nDate\tCustomer\tAmount\tNote\n"
                    "15.03.2026\t100001\t1,00\tx\n", encoding="utf-8")
    with pytest.raises(WrongFormat) as info:
        detect_layout(path, load_layouts(), "utf-8")
    assert "['Date', 'Customer', 'Amount', 'Note']" in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["Customer;Name 1;Credit limit\n100001;Harrow Ltd;50.000,00\n",
     'Customer,Name 1,Credit limit\n100001,Harrow Ltd,"50,000.00"\n',
     "Customer\tName 1\tCredit limit\n100001\tHarrow Ltd\t50,000.00\n",
     "Customer|Name 1|Credit limit\n100001|Harrow Ltd|50000\n"],
    ids=["semicolon-german-numbers", "comma-english-numbers", "tab", "pipe"],
)
def test_customer_master_delimiter_and_numbers_are_sniffed(tmp_path: Path, text: str) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    mapping = load_sap_customers_mapping()
    assert identify_customers(path, mapping) and not identify(path, load_layouts())
    q = Quarantine("sap_export", "DE01", path.name)
    rows = parse_customers(path, entity="DE01", encoding="utf-8", mapping=mapping, quarantine=q).to_pylist()
    assert [(r["customer"], r["name"], str(r["credit_limit"])) for r in rows] == [("0000100001", "Harrow Ltd", "50000.00")]


def test_unknown_entity_message_says_what_to_add(tmp_path: Path) -> None:
    from connectors.sap_export import _customers_entity
    from lettrage.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        _customers_entity(tmp_path / "customers.csv", "IT01")
    message = str(info.value)
    assert all(part in message for part in ("mappings/entities.yaml", "- code: IT01", "currency: <", "sap_company_code:",
                                            "bank_ibans: [", "erp: sap_export"))


def test_fbl5n_reads_special_gl_document_status_and_invoice_reference(tmp_path: Path) -> None:
    """A list showing noted and special G/L items: the down-payment request (F, noted: S), the down payment (A), and
    a partial payment referring to its invoice (Rechnungsbezug, ALPHA-converted like the document numbers)."""
    _, rows, q = _fbl5n(tmp_path, [
        FBL5N_HEADER + ";Sonderhauptbuchkennz.;Belegstatus;Rechnungsbezug",
        "1000;10007;5000120;1600000001;DA;04.08.2026;04.08.2026;8.694,38;EUR;8.694,38;EUR;1400000166;11.08.2026;"
        "Anzahlungsanforderung;5000120;F;S;",
        "1000;10007;5000120;1400000166;DZ;11.08.2026;11.08.2026;8.694,38-;EUR;8.694,38-;EUR;;;Anzahlung;5000120;A;;",
        "1000;10005;;1400000152;DZ;02.09.2026;02.09.2026;6.891,00-;EUR;6.891,00-;EUR;;;Akonto;;;;90000148",
    ])
    assert not q.rows
    assert [(r["document_number"], r["special_gl"], r["doc_status"], r["invoice_ref"], r["invoice_ref_year"])
            for r in rows] == [("1600000001", "F", "S", None, None), ("1400000166", "A", None, None, None),
                               ("1400000152", None, None, "0090000148", None)]
