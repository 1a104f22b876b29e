"""Sage FEC and customer-export parsing, without dlt: golden samples and edge cases."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors._files import Quarantine, scan_file
from connectors.sage_fec.parse import (
    FecParseResult,
    _fiscal_years,
    identify,
    identify_customers,
    iter_fec_lines,
    parse_customers,
    read_fec_header,
)
from lettrage.errors import WrongFormat
from mappings.entities import Entity
from mappings.sage_fec import FEC_COLUMNS, load_fec_conventions, load_fec_customers_mapping
from tests.fixtures.golden import FIXTURES, assert_golden, plain, samples

HEADER = "\t".join(FEC_COLUMNS)


def parse_sample(path: Path, batch_rows: int = 50_000) -> dict[str, Any]:
    scanned = scan_file(path)
    quarantine = Quarantine("sage_fec", "FR01", path.name)
    mapping = load_fec_customers_mapping()
    try:
        if identify_customers(path, mapping):
            rows = parse_customers(path, entity="FR01", encoding=scanned.encoding, mapping=mapping,
                                   quarantine=quarantine).to_pylist()
        else:
            rows = [r for t in iter_fec_lines(path, entity="FR01", file_hash=scanned.file_hash,
                                              encoding=scanned.encoding, conventions=load_fec_conventions(),
                                              quarantine=quarantine, batch_rows=batch_rows) for r in t.to_pylist()]
    except WrongFormat as exc:
        return {"error": str(exc).replace(str(path), path.name)}
    quarantined = sorted(quarantine.to_table().to_pylist(), key=lambda r: (r["line"], r["field"] or ""))
    return {"encoding": scanned.encoding, "rows": rows, "quarantine": quarantined}


@pytest.mark.parametrize("sample", samples("sage_fec"), ids=lambda p: p.name)
def test_sample_matches_golden(sample: Path) -> None:
    assert_golden(sample, parse_sample(sample))


def test_batch_boundaries_never_split_an_entry() -> None:
    """Tiny batches cut entries in two; the result must equal one big batch."""
    sample = FIXTURES / "sage_fec" / "fec_bad_rows.txt"
    assert plain(parse_sample(sample, batch_rows=2)) == plain(parse_sample(sample))


def _fec(tmp_path: Path, lines: list[str], name: str = "x.txt", header: str = HEADER,
         encoding: str = "utf-8", newline: str = "\n") -> Path:
    path = tmp_path / name
    path.write_bytes((newline.join([header, *lines]) + newline).encode(encoding))
    return path


def _line(journal: str, num: str, compte: str, debit: str, credit: str, aux: str = "", date: str = "20250103",
          extra: tuple[str, str] = ("", "")) -> str:
    return "\t".join([journal, "J", num, date, compte, "L", aux, "", "P1", date, "lib", debit, credit, "", "",
                      date, *extra])


def _parse(path: Path, **kw: Any) -> tuple[list[dict[str, Any]], Quarantine, FecParseResult]:
    scanned = scan_file(path)
    q, r = Quarantine("sage_fec", "FR01", path.name), FecParseResult()
    rows = [x for t in iter_fec_lines(path, entity="FR01", file_hash="h", encoding=scanned.encoding,
                                      conventions=load_fec_conventions(), quarantine=q, result=r, **kw)
            for x in t.to_pylist()]
    return rows, q, r


@pytest.mark.parametrize(
    ("header", "expected_delimiter"),
    [
        (HEADER, "\t"),
        (HEADER.replace("\t", "|"), "|"),
        (HEADER.upper(), "\t"),
        (HEADER.lower().replace("\t", "|"), "|"),
        ("\t".join(FEC_COLUMNS[:16]), "\t"),
    ],
    ids=["tab", "pipe", "upper-case", "lower-case-pipe", "without-devise-columns"],
)
def test_header_variants_are_recognised(tmp_path: Path, header: str, expected_delimiter: str) -> None:
    path = _fec(tmp_path, [], header=header)
    fec = read_fec_header(path)
    assert fec.delimiter == expected_delimiter
    assert fec.positions["JournalCode"] == 0 and fec.positions["Credit"] == 12
    assert identify(path)


def test_wrong_format_names_expected_and_found_columns(tmp_path: Path) -> None:
    path = _fec(tmp_path, [], header="Date;Libellé;Montant")
    with pytest.raises(WrongFormat) as info:
        read_fec_header(path)
    message = str(info.value)
    assert "18 columns" in message and "['Date;Libellé;Montant']" in message
    assert not identify(path)


@pytest.mark.parametrize(
    ("encoding", "bom", "expected"),
    [("utf-8", b"", "utf-8"), ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"), ("iso-8859-15", b"", "iso-8859-15"),
     ("cp1252", b"", "cp1252")],
    ids=["utf8", "utf8-bom", "latin9", "windows-1252"],
)
def test_encoding_is_detected_and_text_decoded(tmp_path: Path, encoding: str, bom: bytes, expected: str) -> None:
    path = tmp_path / "e.txt"
    body = (HEADER + "\n" + "\n".join([
        _line("VE", "1", "411000", "10,00", "0", aux="C1").replace("\tL\t", "\tÉtablissements €\t", 1),
        _line("VE", "1", "706000", "0", "10,00"),
    ]) + "\n").encode(encoding)
    path.write_bytes(bom + body)
    assert scan_file(path).encoding == expected
    rows, q, _ = _parse(path)
    assert not q.rows and rows[0]["compte_lib"] == "Établissements €"


def test_windows_1252_punctuation_is_decoded(tmp_path: Path) -> None:
    """Excel/Windows exports write ’ Œ – € as bytes 0x80-0x9F: control codes if read as ISO-8859-15."""
    lib = "\u0152uvres d\u2019art \u2013 50 \u20ac"
    path = _fec(tmp_path, [_line("VE", "1", "411000", "10,00", "0", aux="C1").replace("\tL\t", f"\t{lib}\t", 1),
                           _line("VE", "1", "706000", "0", "10,00")], encoding="cp1252", newline="\r\n")
    assert scan_file(path).encoding == "cp1252"
    assert scan_file(path, encoding="iso-8859-15").encoding == "iso-8859-15"  # an explicit encoding still wins
    rows, q, _ = _parse(path)
    assert not q.rows and rows[0]["compte_lib"] == lib


@pytest.mark.parametrize(
    "ending",
    [b"\x1a", b"\x1a\r\n", b"\r\n\x1a", b"\r\n\x1a\r\n"],
    ids=["after-last-value", "after-last-value-then-eol", "alone-on-last-line", "alone-then-eol"],
)
def test_trailing_ctrl_z_is_not_read(tmp_path: Path, ending: bytes) -> None:
    """Some Sage/Windows exports end with 0x1A, the DOS end-of-file mark; it is not a line of the FEC."""
    path = tmp_path / "z.txt"
    path.write_bytes("\r\n".join([HEADER, _line("VE", "1", "411000", "10,00", "0", aux="C1"),
                                   _line("VE", "1", "706000", "0", "10,00")]).encode() + ending)
    rows, q, _ = _parse(path)
    assert not q.rows and len(rows) == 2 and rows[-1]["idevise"] is None


def test_ctrl_z_before_the_end_is_data(tmp_path: Path) -> None:
    path = _fec(tmp_path, [_line("VE", "1", "411000", "10,00", "0", aux="C1").replace("\tlib\t", "\tlib\x1a\t", 1),
                           _line("VE", "1", "706000", "0", "10,00"), "\x1a",
                           _line("VE", "2", "411000", "5,00", "0", aux="C2"), _line("VE", "2", "706000", "0", "5,00")])
    rows, q, _ = _parse(path)
    assert rows[0]["ecriture_lib"] == "lib\x1a" and len(rows) == 4
    assert [(line, text) for line, _, _, text in q.rows] == [(4, "\x1a")]
    assert "expected 18 columns" in q.rows[0][2] and "found 1" in q.rows[0][2]


@pytest.mark.parametrize(
    ("debit", "expected"),
    [("1200,50", "1200.50"), ("1200.50", "1200.50"), ("0", "0.00"), ("-5,1", "-5.10"), ("", "0.00")],
    ids=["comma", "dot", "zero", "negative", "empty-is-zero"],
)
def test_amounts_accept_comma_and_dot(tmp_path: Path, debit: str, expected: str) -> None:
    path = _fec(tmp_path, [_line("OD", "1", "401000", debit, "0"), _line("OD", "1", "512000", "0", debit)])
    rows, q, _ = _parse(path)
    assert not q.rows
    assert str(rows[0]["debit"]) == expected and str(rows[1]["credit"]) == expected


@pytest.mark.parametrize(
    ("line", "field", "reason_part"),
    [
        (_line("VE", "1", "411000", "10,00", "0", aux="C1", date="20250230"), "EcritureDate", "AAAAMMJJ"),
        (_line("VE", "1", "411000", "1.000,00", "0", aux="C1"), "Debit", "not an amount"),
        (_line("VE", "1", "411000", "10,001", "0", aux="C1"), "Debit", "at most 2 decimals"),
        (_line("VE", "1", "411000", "10,00", "0", aux="C1", extra=("11,00", "EUX")), "Idevise", "unknown currency"),
        (_line("VE", "1", "411000", "10,00", "0"), "CompAuxNum", "without CompAuxNum"),
    ],
    ids=["impossible-date", "thousands-separator", "three-decimals", "unknown-currency", "missing-customer"],
)
def test_bad_line_quarantines_its_entry_and_keeps_others(tmp_path: Path, line: str, field: str, reason_part: str) -> None:
    path = _fec(tmp_path, [line, _line("VE", "1", "706000", "0", "10,00"),
                           _line("VE", "2", "411000", "5,00", "0", aux="C2"), _line("VE", "2", "706000", "0", "5,00")])
    rows, q, result = _parse(path)
    assert [(r["ecriture_num"], r["line_in_entry"]) for r in rows] == [("2", 1), ("2", 2)]
    by_line = {(line_no, fld): reason for line_no, fld, reason, _ in q.rows}
    assert reason_part in by_line[(2, field)]
    assert "has a bad line" in by_line[(3, "EcritureNum")]
    assert result.entries_quarantined == 1 and result.entries_loaded == 1


def test_unbalanced_entry_quarantines_all_its_lines(tmp_path: Path) -> None:
    path = _fec(tmp_path, [_line("VE", "9", "411000", "100,00", "0", aux="C1"), _line("VE", "9", "706000", "0", "99,99"),
                           _line("VE", "9", "445710", "0", "0,00")])
    rows, q, _ = _parse(path)
    assert rows == []
    assert sorted(r[0] for r in q.rows) == [2, 3, 4]
    assert all("unbalanced: debit - credit = 0.01" in r[2] for r in q.rows)


@pytest.mark.parametrize("batch_rows", [50_000, 2, 3], ids=["one-batch", "entry-per-batch", "straddling"])
def test_non_contiguous_entry_is_quarantined(tmp_path: Path, batch_rows: int) -> None:
    path = _fec(tmp_path, [_line("VE", "1", "411000", "5,00", "0", aux="C1"), _line("VE", "1", "706000", "0", "5,00"),
                           _line("VE", "2", "411000", "5,00", "0", aux="C2"), _line("VE", "2", "706000", "0", "5,00"),
                           _line("VE", "1", "411000", "1,00", "0", aux="C1"), _line("VE", "1", "706000", "0", "1,00")])
    rows, q, _ = _parse(path, batch_rows=batch_rows)
    assert [r["line_no"] for r in rows] == [2, 3, 4, 5]
    assert {r[0] for r in q.rows} == {6, 7} and all("contiguous" in r[2] for r in q.rows)


def test_line_numbers_survive_blank_and_malformed_lines(tmp_path: Path) -> None:
    path = _fec(tmp_path, ["", _line("BQ", "1", "512000", "5,00", "0"), "BQ\tshort", _line("BQ", "1", "411000", "0", "5,00", aux="C1")],
                newline="\r\n")
    rows, q, _ = _parse(path)
    assert [(r["line_no"], r["line_in_entry"]) for r in rows] == [(3, 1), (5, 2)]
    assert [(r[0], r[1]) for r in q.rows] == [(4, None)]


def _customers(tmp_path: Path, name: str, text: str) -> tuple[list[dict[str, Any]], Quarantine]:
    """A customer export written as ``text`` and read with the packaged header mapping."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    q = Quarantine("sage_fec", "FR01", path.name)
    rows = parse_customers(path, entity="FR01", encoding="utf-8", mapping=load_fec_customers_mapping(), quarantine=q)
    return rows.to_pylist(), q


def test_customers_mapping_accepts_other_headers(tmp_path: Path) -> None:
    """Another export's header names need only the YAML, not code."""
    rows, q = _customers(tmp_path, "customers_other.csv",
                         "Compte;Raison sociale;E-mail;Délai de paiement;Encours maximum\nC9;ACME SAS;a@b.fr;60;1 000,50\n")
    assert not q.rows
    row = rows[0]
    assert (row["customer_account"], row["name"], row["payment_terms_days"], str(row["credit_limit"])) == (
        "C9", "ACME SAS", 60, "1000.50")


def test_a_customer_list_headed_numero_and_intitule_is_read(tmp_path: Path) -> None:
    """A Sage list of accounts as the desk exports it: "Numéro" and "Intitulé" only."""
    rows, q = _customers(tmp_path, "customers_FR01.csv",
                         "Numéro;Intitulé;IBAN\nCLI001;Laboratoire Perrin;FR76 3000 6000 0112 3456 7890 189\n")
    assert not q.rows and [(r["customer_account"], r["name"]) for r in rows] == [("CLI001", "Laboratoire Perrin")]


def test_a_customers_invoicing_currency_is_read_and_an_unknown_one_set_aside(tmp_path: Path) -> None:
    """An exporter's list says in which currency each customer is invoiced (Devise); a typo is quarantined
    with its line and field, its neighbours still load."""
    rows, q = _customers(tmp_path, "customers_FR01.csv",
                         "Numéro;Intitulé;Devise\nC1;Globex Corp;usd\nC2;Acme UK;GBX\nC3;Dupont SA;\n")
    assert [(r["customer_account"], r["currency"]) for r in rows] == [("C1", "USD"), ("C3", None)]
    assert [(line, fld) for line, fld, _, _ in q.rows] == [(3, "currency")]


def test_entry_of_an_earlier_file_in_the_run_is_refused(tmp_path: Path) -> None:
    """Entries are remembered per entity across the files of one run; the first file wins."""
    from connectors.sage_fec.parse import RunEntries

    first = _fec(tmp_path, [_line("VE", "1", "411000", "5,00", "0", aux="C1"), _line("VE", "1", "706000", "0", "5,00")],
                 name="a.txt")
    second = _fec(tmp_path, [_line("VE", "2", "411000", "3,00", "0", aux="C2"), _line("VE", "2", "706000", "0", "3,00"),
                             _line("VE", "1", "411000", "7,00", "0", aux="C1"), _line("VE", "1", "706000", "0", "7,00")],
                  name="b.txt")
    run = RunEntries()
    rows_a, q_a, _ = _parse(first, run_entries=run)
    rows_b, q_b, _ = _parse(second, run_entries=run)
    assert len(rows_a) == 2 and not q_a.rows
    assert [r["ecriture_num"] for r in rows_b] == ["2", "2"]
    assert {r[0] for r in q_b.rows} == {4, 5} and all("first file wins" in r[2] for r in q_b.rows)
    other_entity = RunEntries()
    other_entity.of("FR02").add_all(run.of("FR01"))
    rows_c, q_c, _ = _parse(second, run_entries=other_entity)  # parsed as FR01: FR02's entries do not count
    assert len(rows_c) == 4 and not q_c.rows


def _signed_form(debit_credit: str, sens_for: dict[str, str] | None = None) -> str:
    """A TAB FEC rewritten with Montant and Sens in place of Debit and Credit (the legal alternative)."""
    lines = debit_credit.splitlines()
    names = lines[0].split("\t")
    d, c = names.index("Debit"), names.index("Credit")
    out = ["\t".join(names[:d] + ["Montant", "Sens"] + names[c + 1:])]
    for line in lines[1:]:
        f = line.split("\t")
        debit = f[d].replace(",", ".") not in ("", "0", "0.00")
        sens = (sens_for or {}).get("debit" if debit else "credit", "D" if debit else "C")
        out.append("\t".join(f[:d] + [f[d] if debit else f[c], sens] + f[c + 1:]))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("sens", [None, {"debit": "+1", "credit": "-1"}, {"debit": "Débit", "credit": "crédit"}],
                         ids=["d-c", "plus-minus-one", "words"])
def test_montant_and_sens_read_as_debit_and_credit(tmp_path: Path, sens: dict[str, str] | None) -> None:
    sample = FIXTURES / "sage_fec" / "fec_tab_utf8.txt"
    signed = tmp_path / sample.name
    signed.write_text(_signed_form(sample.read_text(encoding="utf-8"), sens), encoding="utf-8")
    assert read_fec_header(signed).signed
    expected, got = parse_sample(sample), parse_sample(signed)

    def _rows(parsed: dict[str, Any]) -> list[dict[str, Any]]:  # (the two files' bytes, so their hashes, differ)
        return [{k: v for k, v in r.items() if k != "file_hash"} for r in parsed["rows"]]

    assert _rows(got) and _rows(got) == _rows(expected)
    assert got["quarantine"] == expected["quarantine"]


def test_bad_sens_quarantines_its_entry(tmp_path: Path) -> None:
    header = HEADER.replace("Debit\tCredit", "Montant\tSens")
    path = _fec(tmp_path, [_line("VE", "1", "411000", "10,00", "X", aux="C1"), _line("VE", "1", "706000", "10,00", "C"),
                           _line("VE", "2", "411000", "5,00", "D", aux="C2"), _line("VE", "2", "706000", "5,00", "C")],
                header=header)
    rows, q, _ = _parse(path)
    assert [(r["ecriture_num"], str(r["debit"]), str(r["credit"])) for r in rows] == [("2", "5.00", "0.00"),
                                                                                       ("2", "0.00", "5.00")]
    assert "Sens must be D or C" in {(line_no, fld): reason for line_no, fld, reason, _ in q.rows}[(2, "Sens")]


def test_individual_customer_account_needs_no_compauxnum(tmp_path: Path) -> None:
    """411DUPONT or 4110042 name the customer themselves; 411000 (collective) without CompAuxNum does not."""
    path = _fec(tmp_path, [_line("VE", "1", "411DUPONT", "10,00", "0"), _line("VE", "1", "706000", "0", "10,00"),
                           _line("VE", "2", "4110042", "5,00", "0"), _line("VE", "2", "706000", "0", "5,00"),
                           _line("VE", "3", "41100000", "7,00", "0"), _line("VE", "3", "706000", "0", "7,00")])
    rows, q, _ = _parse(path)
    assert sorted({r["ecriture_num"] for r in rows}) == ["1", "2"]
    assert {(line_no, fld) for line_no, fld, _, _ in q.rows} >= {(6, "CompAuxNum")}


def test_each_line_is_dated_in_its_fiscal_year() -> None:
    """A company closing on 30 June: an entry of 1 July belongs to the year that closes the next June."""
    days = pa.array([date(2025, 6, 30), date(2025, 7, 1), date(2026, 2, 28), None], pa.date32())
    closing = _fiscal_years(days, (6, 30)).to_pylist()
    assert closing == [date(2025, 6, 30), date(2026, 6, 30), date(2026, 6, 30), None]
    assert _fiscal_years(days, (12, 31)).to_pylist() == [date(2025, 12, 31), date(2025, 12, 31), date(2026, 12, 31), None]
    june = Entity(code="FR02", name="X", country="FR", currency="EUR", erp="sage_fec", fiscal_year_end="06-30")
    assert [june.closing_date(d) for d in days.to_pylist()[:3]] == closing[:3]
    with pytest.raises(ValueError, match="fiscal_year_end"):
        Entity(code="FR02", name="X", country="FR", currency="EUR", erp="sage_fec", fiscal_year_end="02-29")


def test_an_entry_that_lost_a_line_to_a_wrong_column_count_says_so(tmp_path: Path) -> None:
    """Line 3 has 19 columns (a TAB in its label): it cannot be read, and its entry, balanced in the file, is
    quarantined with a reason pointing at that line. It said "unbalanced", sending people after amounts that add up."""
    path = _fec(tmp_path, [_line("VE", "3", "411000", "100,00", "0", aux="C1"),
                           _line("VE", "3", "706000", "0", "100,00").replace("\tL\t", "\tL\textra\t", 1),
                           _line("VE", "4", "411000", "5,00", "0", aux="C2"), _line("VE", "4", "706000", "0", "5,00")])
    rows, q, _ = _parse(path)
    assert [r["ecriture_num"] for r in rows] == ["4", "4"]
    by_line = {line_no: reason for line_no, _, reason, _ in q.rows}
    assert "found 19" in by_line[3]
    assert "entry VE 3 has a bad line (line 3: expected 18 columns" in by_line[2] and "unbalanced" not in by_line[2]
