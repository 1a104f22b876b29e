"""Parsing SAP customer line-item exports (BSID/BSAD, FBL5N) by declared layout.

The layout (``mappings/sap/layouts/*.yaml``) is recognised from the file's
header, split by one of the layout's delimiters; layouts that share a header
(English FBL5N with US or UK dates) are told apart by the dates of the rows
below it. Columns are then parsed vectorised. Rules that are SAP's, not the
layout's, live here:

- amounts are signed from SHKZG (S debit +, H credit −) when the file has it,
  else from the written sign (trailing or leading minus);
- net due date = the file's NETDT if given, else baseline date (ZFBDT, else
  BLDAT) + the longest of ZBD1T/ZBD2T/ZBD3T (the net term);
- numeric keys (KUNNR, BELNR, AUGBL) are ALPHA-converted: all-digit values are
  zero-padded to 10 as SAP stores them, so an FBL5N "1000123" and a table
  extract "0001000123" are the same customer;
- the entity is the company code mapped through ``mappings/entities.yaml``;
- a list export may open with title lines (list name, company code, key date)
  before its header, and carries ALV total lines (``*``/``**`` in a cell, no
  document number): the header is searched in the first lines and
  total lines are skipped, neither loaded nor quarantined; so is the layout of a
  list printed in pages (an "unconverted" list): rule lines (``-----``), each
  page's title lines and repeated header (:func:`_layout_line`);
- a layout without a line-item column (FBL5N) numbers the lines of one
  document 1, 2, ... in file order, so a payment document with a residual item
  keeps both lines.
"""

from __future__ import annotations

import csv
import logging
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors._files import (
    BATCH_ROWS,
    MONEY_TYPE,
    Quarantine,
    clean_text,
    constant_column,
    is_blank_row,
    known_currency_mask,
    non_null,
    parse_amounts,
    parse_customer_export,
    parse_dates,
    parse_ints,
    read_delimited,
    read_export_header,
    read_lines,
    row_texts,
    sniff_encoding,
    split_header,
    wrong_format,
)
from lettrage.money import KNOWN_CURRENCIES
from mappings.csv_export import CsvColumnMapping
from mappings.sap import DATE_FIELDS, SapLayout

log = logging.getLogger("lettrage.connectors.sap_export")

ITEMS_SCHEMA = non_null(pa.schema([
    ("entity", pa.string()), ("company_code", pa.string()), ("customer", pa.string()),
    ("document_number", pa.string()), ("fiscal_year", pa.int64()), ("line_item", pa.int64()),
    ("document_type", pa.string()), ("document_date", pa.date32()), ("posting_date", pa.date32()),
    ("baseline_date", pa.date32()), ("terms_days_1", pa.int64()), ("terms_days_2", pa.int64()),
    ("terms_days_3", pa.int64()), ("net_due_date", pa.date32()), ("currency", pa.string()),
    ("amount", MONEY_TYPE), ("amount_local", MONEY_TYPE), ("debit_credit", pa.string()),
    ("reference", pa.string()), ("assignment", pa.string()), ("clearing_document", pa.string()),
    ("clearing_date", pa.date32()), ("text", pa.string()), ("special_gl", pa.string()), ("doc_status", pa.string()),
    ("invoice_ref", pa.string()), ("invoice_ref_year", pa.int64()), ("source_file", pa.string()),
    ("line_no", pa.int64()), ("file_hash", pa.string()), ("layout", pa.string()),
]), "entity", "company_code", "document_number", "fiscal_year", "line_item")
CUSTOMERS_SCHEMA = non_null(pa.schema([
    ("entity", pa.string()), ("customer", pa.string()), ("name", pa.string()), ("email", pa.string()),
    ("vat_id", pa.string()), ("payment_terms_days", pa.int64()), ("iban", pa.string()),
    ("credit_limit", MONEY_TYPE), ("country", pa.string()), ("account_owner", pa.string()),
    ("source_file", pa.string()), ("line_no", pa.int64()),
]), "entity", "customer")
_SNIFF_DELIMITERS = (";", "\t", ",", "|")
# Title lines a list export may carry before its header (list name, company code, key date, blank lines).
HEADER_SEARCH_LINES = 30
# Rows read below the header to decide the date order: with a few hundred dates a day above 12 shows up
# unless the file is tiny. Read lazily (a multi-million-line export costs the same as a small one).
SAMPLE_ROWS = 300
_AMOUNT_FIELDS = ("WRBTR", "DMBTR")


def alpha(value: str) -> str:
    """SAP ALPHA conversion: an all-digit key is stored zero-padded to 10 characters."""
    v = value.strip()
    return v.zfill(10) if v.isdigit() and len(v) < 10 else v


def _alpha_column(arr: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    text = clean_text(arr)
    # utf8_is_digit is also true for non-ASCII digits; ascii_is_decimal is [0-9]+ only (and false for '')
    short = pc.less(pc.binary_length(text), 10)
    digits = pc.and_(pc.ascii_is_decimal(text), short)
    return pc.if_else(digits, pc.utf8_lpad(text, width=10, padding="0"), text)


@dataclass(frozen=True, slots=True)
class LayoutMatch:
    layout: SapLayout
    positions: dict[str, int]
    header: list[str]
    delimiter: str  # the one of the layout's accepted delimiters that splits this file
    header_line: int = 1  # 1-based physical line of the header (after any title lines)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A layout (with one of its delimiters) that recognises a header line, and how its dates fit the sample."""

    layout: SapLayout
    delimiter: str
    names: list[str]
    score: float
    dates_good: int
    dates_total: int

    @property
    def date_share(self) -> float:
        return self.dates_good / self.dates_total if self.dates_total else 1.0

    @property
    def dates_fit(self) -> bool:
        """False when most sample dates fail the layout's format: such a layout must not win."""
        return self.dates_total == 0 or self.dates_good * 2 > self.dates_total


def detect_layout(path: Path, layouts: tuple[SapLayout, ...], encoding: str) -> LayoutMatch:
    """The layout whose headers best match the file's, decided between equals by the dates of the rows.

    The header is the first of the first ``HEADER_SEARCH_LINES`` lines that a layout
    recognises with one of its delimiters: an FBL5N list saved to a file often opens
    with its title, company code and key date. Several layouts share a header (the
    English FBL5N of a US and of a UK user differ only in date order), so up to
    ``SAMPLE_ROWS`` rows below it are read and each layout's date format tried on them:
    a layout whose dates fail on most of the sample is out, and among layouts that fit
    the header equally the one parsing the most dates wins. Raises :class:`WrongFormat`
    naming the file's columns when no layout fits, or its dates when none parses them.
    """
    lines = read_lines(path, encoding, HEADER_SEARCH_LINES + SAMPLE_ROWS)
    for index, head in enumerate(lines[:HEADER_SEARCH_LINES]):
        sample = lines[index + 1:index + 1 + SAMPLE_ROWS]
        candidates = [_candidate(layout, delim, head, sample) for layout in layouts for delim in layout.delimiters
                      if delim in head]
        candidates = [c for c in candidates if c.score > 0]
        if not candidates:
            continue
        fitting = [c for c in candidates if c.dates_fit]
        if not fitting:
            raise wrong_format(
                path, "dates in the format of a layout that fits its header "
                f"({', '.join(f'{c.layout.name}: {c.layout.date_format}' for c in candidates)}); "
                "add a layout with this date format (mappings/sap/layouts/*.yaml)",
                f"dates such as {_sample_dates(candidates[0], sample)[:3]} (header on line {index + 1})",
            )
        fitting.sort(key=lambda c: (-c.score, -c.date_share, c.layout.name))
        best = fitting[0]
        _warn_if_date_order_ambiguous(path, best, fitting[1:])
        return LayoutMatch(layout=best.layout, positions=best.layout.resolve(best.names), header=best.names,
                           delimiter=best.delimiter, header_line=index + 1)
    head, delim = _header_like_line(lines[:HEADER_SEARCH_LINES])
    raise wrong_format(
        path, f"a SAP line-item export matching one of the layouts {[la.name for la in layouts]} "
        "(mappings/sap/layouts/*.yaml); add a layout for this header",
        f"columns {split_header(head, delim)}",
    )


def _candidate(layout: SapLayout, delimiter: str, head: str, sample: list[str]) -> _Candidate:
    names = split_header(head, delimiter)
    score = layout.score(names)
    good, total = _sample_fit(layout, delimiter, names, sample) if score > 0 else (0, 0)
    return _Candidate(layout, delimiter, names, score, good, total)


def _sample_cells(layout: SapLayout, delimiter: str, sample: list[str]) -> Iterator[list[str]]:
    """The sample lines split as the layout reads them (quoted ``"1,234.56"`` stays one cell)."""
    if layout.quote_char:
        return csv.reader(sample, delimiter=delimiter, quotechar=layout.quote_char)
    return csv.reader(sample, delimiter=delimiter, quoting=csv.QUOTE_NONE)


def _sample_dates(candidate: _Candidate, sample: list[str]) -> list[str]:
    positions = candidate.layout.resolve(candidate.names)
    wanted = [positions[f] for f in sorted(DATE_FIELDS) if f in positions]
    return [cells[pos].strip() for cells in _sample_cells(candidate.layout, candidate.delimiter, sample)
            for pos in wanted if pos < len(cells) and cells[pos].strip()]


def _sample_fit(layout: SapLayout, delimiter: str, names: list[str], sample: list[str]) -> tuple[int, int]:
    """(parsed, total) date values of the sample rows in the layout's date format."""
    values = _sample_dates(_Candidate(layout, delimiter, names, 0.0, 0, 0), sample)
    if not values:
        return 0, 0
    _, bad = parse_dates(pa.array(values, pa.string()), layout.strptime_format)
    return int((~bad).sum()), len(values)


def _warn_if_date_order_ambiguous(path: Path, best: _Candidate, others: list[_Candidate]) -> None:
    """A small file whose days are all 12 or less reads both day- and month-first: say which was chosen."""
    rival = next((c for c in others if c.score == best.score and c.date_share == best.date_share
                  and c.layout.date_format != best.layout.date_format and c.dates_total), None)
    if rival is not None:
        log.warning("%s: its %d sample dates read both as %s (layout %s) and as %s (layout %s); read as %s. "
                    "If that is wrong, add a row with a day above 12 or drop the other layout",
                    path.name, best.dates_total, best.layout.date_format, best.layout.name,
                    rival.layout.date_format, rival.layout.name, best.layout.date_format)


def _header_like_line(lines: list[str]) -> tuple[str, str]:
    """The line most like a header (most columns, quotes respected; the first of equals) and its delimiter.

    For error messages: a list's title line ("Customer Line Item Display") says nothing
    about the columns the file has, and a data row's quoted "50,000.00" is one column.
    """
    best, best_count, best_delim = "", 0, _SNIFF_DELIMITERS[0]
    for line in lines:
        if not line.strip():
            continue
        for delim in _SNIFF_DELIMITERS:
            count = len(next(csv.reader([line], delimiter=delim)))
            if count > best_count:
                best, best_count, best_delim = line, count, delim
    return best, best_delim


def identify(path: Path, layouts: tuple[SapLayout, ...] | None = None) -> bool:
    """Is this a SAP line-item export of a known layout (``mappings/sap/layouts``)?"""
    from mappings.sap import load_layouts

    layouts = layouts if layouts is not None else load_layouts()
    try:
        detect_layout(path, layouts, sniff_encoding(path))
    except Exception:
        return False
    return True


@dataclass(slots=True)
class SapParseResult:
    layout: str = ""
    rows_loaded: int = 0


def iter_items(
    path: Path,
    *,
    file_hash: str,
    encoding: str,
    match: LayoutMatch,
    company_codes: dict[str, str],
    quarantine: Quarantine,
    default_entity: str | None = None,
    result: SapParseResult | None = None,
    batch_rows: int = BATCH_ROWS,
) -> Iterator[pa.Table]:
    """Yield the good line items as ``ITEMS_SCHEMA`` tables; bad rows go to ``quarantine``.

    Line numbers are the file's physical lines, title lines above the header included.
    """
    result = result if result is not None else SapParseResult()
    result.layout = match.layout.name
    offset = match.header_line - 1
    line_counts: dict[str, int] = {}
    titles = _title_lines(path, match.header_line, encoding)
    with _from_header(path, match.header_line) as text:
        for batch in read_delimited(text, encoding=encoding, delimiter=match.delimiter,
                                    quote_char=match.layout.quote_char, header=match.header, batch_rows=batch_rows):
            for bad in batch.bad_lines:
                if not _layout_line(bad.text, match, titles):
                    quarantine.add(bad.line + offset if bad.line > 0 else bad.line, None, bad.reason, bad.text)
            table, line_no = batch.table, batch.line_no + offset
            skip = is_blank_row(table) | _is_total_row(table, match) | _is_header_row(table, match)
            if skip.any():
                keep = np.flatnonzero(~skip)
                table, line_no = table.take(pa.array(keep)), line_no[keep]
            if table.num_rows == 0:
                continue
            out = _parse_block(path, table, line_no, match, file_hash, company_codes, quarantine, default_entity,
                               line_counts)
            if out.num_rows:
                result.rows_loaded += out.num_rows
                yield out


@contextmanager
def _from_header(path: Path, header_line: int) -> Iterator[Path]:
    """``path`` itself when the header is its first line, else a temporary copy starting at the header."""
    if header_line <= 1:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="lettrage-sap-") as tmp:
        copy = Path(tmp) / path.name
        with path.open("rb") as src, copy.open("wb") as dst:
            for _ in range(header_line - 1):
                src.readline()
            shutil.copyfileobj(src, dst, 1 << 20)
        yield copy


def _title_lines(path: Path, header_line: int, encoding: str) -> frozenset[str]:
    """The list's title lines above its header (list name, company code, key date), blanks folded: a list printed in
    pages repeats them on every page, its page number aside."""
    if header_line <= 1:
        return frozenset()
    lines = read_lines(path, encoding, header_line - 1)
    return frozenset(folded for folded in (_fold_title(line) for line in lines) if folded)


def _fold_title(line: str) -> str:
    """A title line as compared with the next pages': blanks folded, numbers alike ("Seite 1", "Seite 2")."""
    return _NUMBERS.sub("#", " ".join(line.split()))


_NUMBERS = re.compile(r"[0-9]+")


# characters of the rule lines a list printed in pages draws between its header, its rows and its pages
_RULE_CHARS = frozenset("-=_|+* \t")


def _layout_line(text: str, match: LayoutMatch, titles: frozenset[str]) -> bool:
    """A line of the list's page layout, not a line item with the wrong number of columns (which is quarantined):
    a rule line (``-----``), a page's title line (one of the list's opening title lines again), the header again,
    or a total line cut short (a ``*`` cell and no cell that could be a document number). They were quarantined,
    39 records for a two-page list, the file's one bad row named after them."""
    folded = " ".join(text.split())
    if not folded or set(folded) <= _RULE_CHARS or _fold_title(folded) in titles:
        return True
    cells = [c.strip() for c in text.split(match.delimiter)]
    if [c for c in cells if c] == [h.strip() for h in match.header if h.strip()]:
        return True
    starred = any(c.startswith("*") for c in cells)
    return starred and not any(c.isdigit() and len(c) >= 5 for c in cells)


def _is_header_row(table: pa.Table, match: LayoutMatch) -> np.ndarray:
    """The header repeated on a later page of the list: every named column holds its own name."""
    n = table.num_rows
    named = [(pos, name.strip()) for pos, name in enumerate(match.header) if name.strip() and pos < table.num_columns]
    if n == 0 or not named:
        return np.zeros(n, dtype=bool)
    same = np.ones(n, dtype=bool)
    for pos, name in named:
        equal = pc.equal(pc.utf8_trim_whitespace(table.column(pos)), name)
        same &= np.asarray(pc.fill_null(equal, False).to_numpy(zero_copy_only=False), dtype=bool)
    return same


def _is_total_row(table: pa.Table, match: LayoutMatch) -> np.ndarray:
    """ALV total and subtotal lines: no document number, and a cell starting with '*' (in the amount, the
    first cell, or the status column some lists mark them in: any cell of such a line)."""
    n = table.num_rows
    belnr = match.positions.get("BELNR")
    if n == 0 or belnr is None:
        return np.zeros(n, dtype=bool)
    no_document = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(table.column(belnr))), 0),
                                          False).to_numpy(zero_copy_only=False), dtype=bool)
    if not no_document.any():
        return no_document
    starred = np.zeros(n, dtype=bool)
    for pos in range(table.num_columns):
        starts = pc.starts_with(pc.utf8_trim_whitespace(table.column(pos)), "*")
        starred |= np.asarray(pc.fill_null(starts, False).to_numpy(zero_copy_only=False), dtype=bool)
    return no_document & starred


def _number_lines(keys: pa.Array | pa.ChunkedArray, counts: dict[str, int]) -> pa.Array:
    """1, 2, ... per key in order of appearance, continuing from ``counts`` (updated) across batches."""
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    encoded = pc.dictionary_encode(keys)
    idx = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    order = np.argsort(idx, kind="stable")
    ordered = idx[order]
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = ordered[1:] != ordered[:-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(ordered)), 0))
    rank = np.empty(len(idx), dtype=np.int64)
    rank[order] = np.arange(len(ordered)) - group_start
    values = encoded.dictionary.to_pylist()
    base = np.asarray([counts.get(v, 0) for v in values], dtype=np.int64)
    for v, b, c in zip(values, base.tolist(), np.bincount(idx, minlength=len(values)).tolist(), strict=True):
        counts[v] = b + c
    return pa.array(base[idx] + rank + 1, pa.int64())


def _parse_block(
    path: Path, table: pa.Table, line_no: np.ndarray, match: LayoutMatch, file_hash: str,
    company_codes: dict[str, str], quarantine: Quarantine, default_entity: str | None,
    line_counts: dict[str, int] | None = None,
) -> pa.Table:
    layout, n = match.layout, table.num_rows
    empty = constant_column("", n)

    def raw(fld: str) -> pa.Array | pa.ChunkedArray:
        pos = match.positions.get(fld)
        if pos is not None:
            return table.column(pos)
        if fld in layout.defaults:
            return constant_column(layout.defaults[fld], n)
        return empty

    def isnull(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
        return np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)

    problems: list[tuple[np.ndarray, str, str]] = []
    fmt = layout.strptime_format
    dates = {}
    for fld in ("BLDAT", "BUDAT", "ZFBDT", "AUGDT", "NETDT"):
        dates[fld], bad = parse_dates(raw(fld), fmt)
        problems.append((bad, fld, f"not a date in the layout's format {layout.date_format}"))
    dec_sep, group_seps = layout.separators
    amounts = {}
    for fld in ("WRBTR", "DMBTR"):
        amounts[fld], bad = parse_amounts(raw(fld), decimal_sep=dec_sep, group_seps=group_seps)
        problems.append((bad, fld, f"not an amount in the layout's number format {layout.number_format}"))
    problems.append((isnull(amounts["WRBTR"]) & ~problems[-2][0], "WRBTR", "amount in document currency is empty"))
    ints = {}
    for fld in ("ZBD1T", "ZBD2T", "ZBD3T", "GJAHR", "BUZEI", "REBZJ"):
        ints[fld], bad = parse_ints(raw(fld))
        problems.append((bad, fld, "not a whole number"))

    customer = _alpha_column(raw("KUNNR"))
    problems.append((isnull(customer), "KUNNR", "missing customer account (KUNNR)"))
    document = _alpha_column(raw("BELNR"))
    problems.append((isnull(document), "BELNR", "missing document number (BELNR)"))
    currency = pc.utf8_upper(clean_text(raw("WAERS")))
    problems.append((~known_currency_mask(currency, KNOWN_CURRENCIES), "WAERS",
                     "unknown currency (expected an ISO 4217 code)"))
    company = clean_text(raw("BUKRS"))
    # entity per row: index into the mapped entities, the last slot being the default (maybe None)
    mapped = pc.fill_null(pc.index_in(company, value_set=pa.array(list(company_codes), pa.string())),
                          len(company_codes))
    entity_column = pa.array(list(company_codes.values()) + [default_entity], pa.string()).take(mapped)
    problems.append((isnull(entity_column), "BUKRS",
                     "company code not in mappings/entities.yaml (sap_company_code)"))

    # Sign: SHKZG wins when present; otherwise the written sign decides.
    shkzg = pc.utf8_upper(clean_text(raw("SHKZG")))
    has_shkzg = "SHKZG" in match.positions
    if has_shkzg:
        valid_flag = np.asarray(pc.fill_null(pc.is_in(shkzg, value_set=pa.array(["S", "H"])), False)
                                .to_numpy(zero_copy_only=False), dtype=bool)
        problems.append((~valid_flag, "SHKZG", "debit/credit indicator must be S or H"))
        credit = np.asarray(pc.fill_null(pc.equal(shkzg, "H"), False).to_numpy(zero_copy_only=False), dtype=bool)
        credit_arr = pa.array(credit)
        for fld in ("WRBTR", "DMBTR"):
            absolute = pc.abs(amounts[fld])
            amounts[fld] = pc.if_else(credit_arr, pc.negate(absolute), absolute)
        debit_credit = pc.if_else(credit_arr, "H", "S")
    else:
        negative = pc.fill_null(pc.less(amounts["WRBTR"], pa.scalar(0, MONEY_TYPE)), False)
        debit_credit = pc.if_else(negative, "H", "S")

    # Fiscal year from the posting (else document) date when the layout has none.
    if "GJAHR" not in match.positions:
        base = pc.coalesce(dates["BUDAT"], dates["BLDAT"])
        ints["GJAHR"] = pc.year(base)
    if "BUZEI" not in match.positions:
        # no line-item column: the lines of one document are numbered in file order (1 for most)
        doc_key = pc.binary_join_element_wise(
            pc.fill_null(company, ""), pc.fill_null(pc.cast(ints["GJAHR"], pa.string()), ""),
            pc.fill_null(document, ""), "|")
        ints["BUZEI"] = _number_lines(doc_key, line_counts if line_counts is not None else {})
    problems.append((isnull(ints["GJAHR"]), "GJAHR", "fiscal year missing and no posting date to derive it"))

    baseline = pc.coalesce(dates["ZFBDT"], dates["BLDAT"])
    terms = pc.max_element_wise(*(pc.fill_null(ints[f], 0) for f in ("ZBD1T", "ZBD2T", "ZBD3T")))
    computed_due = pc.cast(pc.add(pc.cast(baseline, pa.int32()), pc.cast(terms, pa.int32())), pa.date32())
    net_due = pc.coalesce(dates["NETDT"], computed_due)

    row_bad = np.zeros(n, dtype=bool)
    for mask, _, _ in problems:
        row_bad |= mask
    if row_bad.any():
        rows = np.flatnonzero(row_bad)
        texts = dict(zip(rows.tolist(), row_texts(table, rows, match.delimiter), strict=True))
        for mask, fld, reason in problems:
            for r in np.flatnonzero(mask).tolist():
                quarantine.add(int(line_no[r]), fld, reason, texts[r])
    keep = pa.array(np.flatnonzero(~row_bad)) if row_bad.any() else None
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "entity": entity_column,
        "company_code": company, "customer": customer, "document_number": document,
        "fiscal_year": ints["GJAHR"], "line_item": ints["BUZEI"], "document_type": clean_text(raw("BLART")),
        "document_date": dates["BLDAT"], "posting_date": dates["BUDAT"], "baseline_date": baseline,
        "terms_days_1": ints["ZBD1T"], "terms_days_2": ints["ZBD2T"], "terms_days_3": ints["ZBD3T"],
        "net_due_date": net_due, "currency": currency, "amount": amounts["WRBTR"],
        "amount_local": amounts["DMBTR"], "debit_credit": debit_credit, "reference": clean_text(raw("XBLNR")),
        "assignment": clean_text(raw("ZUONR")), "clearing_document": _alpha_column(raw("AUGBL")),
        "clearing_date": dates["AUGDT"], "text": clean_text(raw("SGTXT")),
        "special_gl": pc.utf8_upper(clean_text(raw("UMSKZ"))), "doc_status": pc.utf8_upper(clean_text(raw("BSTAT"))),
        "invoice_ref": _alpha_column(raw("REBZG")), "invoice_ref_year": ints["REBZJ"],
        "source_file": constant_column(path.name, n), "line_no": pa.array(line_no.astype(np.int64)),
        "file_hash": constant_column(file_hash, n), "layout": constant_column(layout.name, n),
    }
    arrays = [pc.cast(columns[name] if keep is None else columns[name].take(keep), ITEMS_SCHEMA.field(name).type)
              for name in ITEMS_SCHEMA.names]
    return pa.Table.from_arrays(arrays, schema=ITEMS_SCHEMA)


# ---------------------------------------------------------------------------
# customer master
# ---------------------------------------------------------------------------


def identify_customers(path: Path, mapping: CsvColumnMapping) -> bool:
    try:
        read_export_header(path, mapping, sniff_encoding(path))
    except Exception:
        return False
    return True


def parse_customers(path: Path, *, entity: str, encoding: str, mapping: CsvColumnMapping,
                    quarantine: Quarantine) -> pa.Table:
    """The SAP customer master extract as ``CUSTOMERS_SCHEMA`` rows (KUNNR ALPHA-converted)."""
    return parse_customer_export(path, entity=entity, encoding=encoding, mapping=mapping, quarantine=quarantine,
                                 schema=CUSTOMERS_SCHEMA, normalize={"customer": alpha})


def pack_item_keys(table: pa.Table, codes: dict[str, int]) -> np.ndarray:
    """Each item's key (entity, company code, year, 10-digit document, line) packed in an int64.

    ``codes`` numbers the (entity, company code) pairs of the run (grown here).
    Rows that do not pack (non-numeric document numbers, lines over 999, odd
    years, more than 1,000 company codes) get -1 and are checked by hash instead.
    """
    pairs = pc.binary_join_element_wise(table.column("entity"), table.column("company_code"), "|")
    encoded = pc.dictionary_encode(pairs.combine_chunks() if isinstance(pairs, pa.ChunkedArray) else pairs)
    local = [codes.setdefault(v, len(codes)) for v in encoded.dictionary.to_pylist()]
    code = np.asarray(local, dtype=np.int64)[np.asarray(encoded.indices.to_numpy(zero_copy_only=False))]
    doc_text = table.column("document_number")
    numeric = np.asarray(pc.fill_null(pc.match_substring_regex(doc_text, r"^\d{1,10}$"), False)
                         .to_numpy(zero_copy_only=False), dtype=bool)
    doc = np.asarray(pc.cast(pc.if_else(pa.array(numeric), doc_text, "0"), pa.int64()).to_numpy(zero_copy_only=False))
    year = np.asarray(pc.fill_null(table.column("fiscal_year"), -1).to_numpy(zero_copy_only=False), dtype=np.int64) - 1900
    line = np.asarray(pc.fill_null(table.column("line_item"), -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    ok = numeric & (year >= 0) & (year < 200) & (line >= 0) & (line < 1000) & (code < 1000)
    packed = ((code * 200 + year) * 10_000_000_000 + doc) * 1000 + line
    return np.where(ok, packed, -1)
