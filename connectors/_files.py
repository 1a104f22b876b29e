"""What every file source shares: finding files, fingerprints, encodings,
streaming delimited reads, vectorised column parsing, quarantine and the
``raw_loaded_files`` ledger.

Why arrow throughout: dlt loads a pyarrow table about thirty times faster than
the same rows as dicts, and pyarrow's CSV reader plus ``pyarrow.compute`` parse
a million rows in a second or two, where per-row Python would take ten. Rows
that fail a check are found with vectorised masks and only those few are
turned into Python objects for ``raw_quarantine``.

A file is identified by the sha256 of its bytes. The set of hashes already
loaded lives in the dlt resource state, which dlt commits in the same load as
the data, so re-dropping a file changes nothing and a crashed load is retried.
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import glob as globmod
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lettrage.errors import InvalidAmount, WrongFormat
from lettrage.money import KNOWN_CURRENCIES, parse_decimal
from mappings.csv_export import CsvColumnMapping

log = logging.getLogger("lettrage.connectors.files")

BATCH_ROWS = 200_000  # per parse and per yield: dlt validates hints per item, ~50 ms each
READ_CHUNK = 1 << 20
CSV_BLOCK_SIZE = 8 << 20
MONEY_TYPE = pa.decimal128(18, 2)
QUARANTINE_TABLE = "raw_quarantine"
LOADED_FILES_TABLE = "raw_loaded_files"
# Bytes 0x80-0x9F: printable in Windows-1252 (€ 0x80, Œ 0x8C, ’ 0x92, – 0x96), C1 control codes in ISO-8859-15.
_NOT_C1 = bytes(b for b in range(256) if not 0x80 <= b <= 0x9F)
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")  # Python's cp1252 codec refuses these five
# A Ctrl-Z (DOS end-of-file mark) ending the file, alone on the last line or after its last value.
_DOS_EOF = re.compile(rb"\x1a(?:\r?\n)?\Z")
# A character written in UTF-8 (two to four bytes): in a file that is not valid UTF-8, the sign of one that mixes
# the two (a line pasted from another tool), where a true 8-bit export would read "Ã©" for "é"
_UTF8_SEQUENCE = re.compile(rb"[\xC2-\xDF][\x80-\xBF]|[\xE0-\xEF][\x80-\xBF]{2}|[\xF0-\xF4][\x80-\xBF]{3}")

# ---------------------------------------------------------------------------
# finding and fingerprinting files
# ---------------------------------------------------------------------------


def list_files(location: str | Path, pattern: str = "*") -> list[Path]:
    """Files under ``location`` (a file, a folder searched for ``pattern``, or a glob), sorted.

    Sorted so that loads are deterministic: a later fiscal-year export merges
    over an earlier one in the same order every time. In a folder the pattern ignores case:
    exports arrive as ``BSID.CSV`` or ``STATEMENT.XML`` as often as in lower case.
    """
    text = str(location)
    path = Path(text)
    if path.is_file():
        return [path]
    if path.is_dir():
        wanted = pattern.lower()
        return sorted(p for p in path.iterdir() if p.is_file() and fnmatch.fnmatch(p.name.lower(), wanted))
    return sorted(Path(p) for p in globmod.glob(text) if Path(p).is_file())


def warn_unread(source: str, location: str | Path, read: Iterable[Path]) -> list[Path]:
    """Log the files of a drop folder that ``source`` does not read (an ``.xls``, a ``.zip``, a stray
    export): a file that is silently skipped is a day of cash nobody reconciles. Returns them."""
    folder = Path(str(location))
    if not folder.is_dir():
        return []
    taken = {p.resolve() for p in read}
    unread = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                    and p.resolve() not in taken)
    if unread:
        log.warning("%s: %d file(s) in %s are not read (not a file this source takes): %s", source, len(unread),
                    folder, ", ".join(p.name for p in unread))
    return unread


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A file's identity (sha256) and the encoding it was found to be in."""

    path: Path
    file_hash: str
    size: int
    encoding: str

    @property
    def name(self) -> str:
        return self.path.name


def scan_file(path: Path, encoding: str | None = None) -> ScannedFile:
    """Hash the file and detect its encoding in one streaming pass.

    Detection never guesses silently: a UTF-8 BOM means ``utf-8-sig``; a file
    that decodes as strict UTF-8 end to end is ``utf-8``; anything else is
    8-bit, ``cp1252`` or ``iso-8859-15`` as :func:`legacy_encoding` decides from
    the whole file, and is logged as such. An explicit ``encoding`` skips detection.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_ok = encoding is None
    c1: set[int] = set()  # the bytes 0x80-0x9F met, in case the file is not UTF-8
    bom = False
    size = 0
    lines = 0  # line breaks before the chunk read (counted until strict UTF-8 fails: then first_bad has its line)
    first_bad: tuple[int, int] | None = None  # (line, byte) where strict UTF-8 first failed
    # a character written in UTF-8 seen somewhere: if strict UTF-8 then fails, the file mixes encodings (before the
    # failure the decoded text tells; after it, only a file already known not to be UTF-8 is searched)
    utf8_text = False
    with path.open("rb") as fh:
        first = True
        while chunk := fh.read(READ_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if first:
                bom = chunk.startswith(codecs.BOM_UTF8)
                first = False
            if utf8_ok:
                try:
                    utf8_text = utf8_text or not decoder.decode(chunk).isascii()
                    lines += chunk.count(b"\n")
                except UnicodeDecodeError as exc:
                    utf8_ok = False
                    first_bad = (lines + chunk.count(b"\n", 0, max(exc.start, 0)) + 1,
                                 chunk[exc.start] if 0 <= exc.start < len(chunk) else 0)
            if not utf8_ok and encoding is None and not utf8_text:
                utf8_text = _UTF8_SEQUENCE.search(chunk) is not None
            if encoding is None:
                c1.update(chunk.translate(None, _NOT_C1))
        if utf8_ok:
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                utf8_ok = False
    if encoding is None:
        if bom:
            encoding = "utf-8-sig"
        elif utf8_ok:
            encoding = "utf-8"
        else:
            encoding = legacy_encoding(c1)
            where = f" (line {first_bad[0]}, byte 0x{first_bad[1]:02X})" if first_bad else ""
            if utf8_text:
                # one stray byte re-decodes every line: the accents written in UTF-8 then read "Ã©"
                log.warning("%s mixes UTF-8 with another encoding: it is not valid UTF-8%s, yet holds characters "
                            "written in UTF-8; read whole as %s, those read wrong. Re-export it in one encoding, or "
                            "set `encoding` in the source", path.name, where, encoding)
            else:
                log.info("%s is not valid UTF-8%s; reading it as %s", path.name, where, encoding)
            if c1 & _CP1252_UNDEFINED:
                log.warning("%s holds bytes 0x80-0x9F that Windows-1252 does not define (%s); they are read as "
                            "ISO-8859-15 control codes: check how the file was exported", path.name,
                            " ".join(f"0x{b:02X}" for b in sorted(c1 & _CP1252_UNDEFINED)))
    return ScannedFile(path=path, file_hash=digest.hexdigest(), size=size, encoding=encoding)


def sniff_encoding(path: Path, limit: int = 1 << 16) -> str:
    """The encoding of a file's first ``limit`` bytes, to read its header when routing it.

    Routing a file (is it a customer master? which layout?) only needs the
    header, so it must not cost a pass over a 250 MB export; the load itself
    still detects the encoding over the whole file with :func:`scan_file`.
    """
    with path.open("rb") as fh:
        head = fh.read(limit)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")("strict").decode(head)  # not final: a cut character is fine
    except UnicodeDecodeError:
        return legacy_encoding(head.translate(None, _NOT_C1))
    return "utf-8"


def legacy_encoding(c1: Iterable[int]) -> str:
    """The 8-bit encoding of a file that is not UTF-8, given the bytes 0x80-0x9F it holds.

    Excel and Windows save text as Windows-1252, where these bytes are
    characters (€ ’ Œ –); in ISO-8859-15, the legacy encoding the FEC rules
    allow, they are control codes no export writes. So any of them means
    ``cp1252`` and none keeps ``iso-8859-15`` (the two agree on every other
    byte but eight, such as € at 0xA4). A file holding one of the five bytes
    cp1252 leaves undefined cannot be cp1252 and stays ``iso-8859-15``, which
    decodes every byte, rather than failing the load.
    """
    seen = set(c1)
    return "cp1252" if seen and not seen & _CP1252_UNDEFINED else "iso-8859-15"


def read_first_line(path: Path, encoding: str) -> str:
    """The header line, decoded, without BOM or line ending ('' for an empty file)."""
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        line = fh.readline()
    return line.lstrip("\ufeff").rstrip("\r\n")


def read_lines(path: Path, encoding: str, limit: int) -> list[str]:
    """The first ``limit`` lines (header included), for sniffing a layout."""
    out: list[str] = []
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        for line in fh:
            out.append(line.lstrip("\ufeff").rstrip("\r\n"))
            if len(out) >= limit:
                break
    return out


def split_header(line: str, delimiter: str) -> list[str]:
    return [h.strip().strip('"').strip() for h in line.split(delimiter)]


def entity_from_path(path: Path, codes: Iterable[str]) -> str | None:
    """The entity code named by one of the file's parent folders (``<root>/FR01/sage_fec/x``)."""
    known = set(codes)
    for parent in path.resolve().parents:
        if parent.name in known:
            return parent.name
    return None


# ---------------------------------------------------------------------------
# streaming delimited reads
# ---------------------------------------------------------------------------


@dataclass(slots=True)
class BadLine:
    """A physical line the CSV reader could not split into the header's columns."""

    line: int
    text: str
    reason: str


@dataclass(slots=True)
class DelimitedBatch:
    """Up to ``batch_rows`` rows, all string columns named as in the file, with line numbers."""

    table: pa.Table
    line_no: np.ndarray
    bad_lines: list[BadLine]


def read_delimited(
    path: Path,
    *,
    encoding: str,
    delimiter: str,
    quote_char: str | None,
    header: Sequence[str],
    batch_rows: int = BATCH_ROWS,
) -> Iterator[DelimitedBatch]:
    """Stream a delimited file as batches of string columns.

    Every column is read as text (parsing happens vectorised afterwards, so a
    bad value becomes a quarantine row, not a failed file). Lines with the
    wrong number of columns are returned as :class:`BadLine`. Line numbers are
    the physical 1-based lines of the file (the header is line 1); values may
    not contain newlines, which holds for FEC and SAP exports. A trailing
    Ctrl-Z is not read (see :func:`without_dos_eof`).
    """
    names = [f"c{i}" for i in range(len(header))]
    bad: list[BadLine] = []
    expected = len(header)

    def on_invalid(row: Any) -> str:
        bad.append(BadLine(
            line=int(row.number) if row.number is not None else -1,
            text=row.text,
            reason=f"expected {expected} columns separated by {delimiter!r}, found {row.actual_columns}",
        ))
        return "skip"

    pa_encoding = "utf8" if encoding.replace("-", "").lower() in ("utf8", "utf8sig") else encoding
    reader = pacsv.open_csv(
        without_dos_eof(path),
        read_options=pacsv.ReadOptions(
            use_threads=False, block_size=CSV_BLOCK_SIZE, skip_rows=1, column_names=names,
            encoding=pa_encoding,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, quote_char=quote_char or False, double_quote=bool(quote_char),
            ignore_empty_lines=False, invalid_row_handler=on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names}, strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    valid_seen = 0
    reported = 0
    pending: list[pa.RecordBatch] = []
    pending_rows = 0

    def flush() -> DelimitedBatch:
        nonlocal valid_seen, reported, pending, pending_rows
        table = pa.Table.from_batches(pending)
        n = table.num_rows
        # k-th valid row (0-based) sits on physical line k + 2 shifted past every skipped bad line.
        known = sorted(b.line for b in bad if b.line > 0)
        compressed = np.arange(valid_seen, valid_seen + n, dtype=np.int64) + 2
        if known:
            shifts = np.asarray(known, dtype=np.int64) - np.arange(len(known), dtype=np.int64)
            compressed = compressed + np.searchsorted(shifts, compressed, side="right")
        new_bad = bad[reported:]
        reported = len(bad)
        valid_seen += n
        pending, pending_rows = [], 0
        return DelimitedBatch(table=table, line_no=compressed, bad_lines=list(new_bad))

    for record_batch in reader:
        pending.append(record_batch)
        pending_rows += record_batch.num_rows
        if pending_rows >= batch_rows:
            yield flush()
    if pending or len(bad) > reported:
        if not pending:
            pending = [pa.RecordBatch.from_pydict({n: pa.array([], pa.string()) for n in names})]
        yield flush()


def without_dos_eof(path: Path) -> str | pa.NativeFile:
    """``path`` to read, or, when it ends with a Ctrl-Z, its bytes before that mark.

    Some Sage and other Windows exports still end with 0x1A, the DOS
    end-of-file mark, alone on the last line or right after the last value;
    read as data it would be a one-column line (or a damaged last value) in
    quarantine. Only a 0x1A at the very end (optionally followed by a line
    ending) is cut: anywhere else it is data. The file is memory-mapped, so
    the cut copies nothing.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - 3))
        tail = fh.read()
    found = _DOS_EOF.search(tail)
    if found is None:
        return str(path)
    log.info("%s ends with a Ctrl-Z (DOS end-of-file mark), not read as data", path.name)
    return pa.BufferReader(pa.memory_map(str(path)).read_buffer(size - len(tail) + found.start()))


def row_texts(table: pa.Table, rows: np.ndarray, delimiter: str) -> list[str]:
    """Rebuild the raw text of a few rows (for quarantine) from their string columns."""
    if len(rows) == 0:
        return []
    sub = table.take(pa.array(rows, pa.int64()))
    cols = [sub.column(i).to_pylist() for i in range(sub.num_columns)]
    return [delimiter.join(v or "" for v in vals) for vals in zip(*cols, strict=True)]


def is_blank_row(table: pa.Table) -> np.ndarray:
    """Rows whose every column is empty (blank lines): skipped, neither loaded nor quarantined.

    Only rows with an empty first column can be blank, and real files have
    almost none, so the other columns are checked on those few rows only.
    """
    n = table.num_rows
    if n == 0 or table.num_columns == 0:
        return np.ones(n, dtype=bool)
    candidates = np.flatnonzero(_mask(pc.equal(pc.utf8_length(table.column(0)), 0)))
    blank = np.zeros(n, dtype=bool)
    if len(candidates) == 0:
        return blank
    sub = table.take(pa.array(candidates))
    keep = np.ones(len(candidates), dtype=bool)
    for col in sub.columns[1:]:
        keep &= _mask(pc.equal(pc.utf8_length(col), 0))
    blank[candidates[keep]] = True
    return blank


def constant_column(value: Any, n: int, type_: pa.DataType = pa.string()) -> pa.Array:
    """``value`` repeated ``n`` times, built in C++ (no list of ``n`` Python objects).

    A ``take`` of a one-value array: it draws on arrow's memory pool, which in
    steady state beats laying out fresh buffers from Python.
    """
    if value is None:
        return pa.nulls(n, type_)
    return pa.array([value], type_).take(pa.array(np.zeros(n, dtype=np.int32)))


# ---------------------------------------------------------------------------
# vectorised column parsing: each returns (typed array, bad-value mask)
# ---------------------------------------------------------------------------


def _mask(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def clean_text(arr: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Trim whitespace; empty becomes null (so the warehouse sees NULL, not '')."""
    if isinstance(arr, pa.ChunkedArray):
        return pa.chunked_array([_clean_chunk(c) for c in arr.chunks], arr.type)
    return _clean_chunk(arr)


def _clean_chunk(arr: pa.Array) -> pa.Array:
    """Null out empty values by swapping the validity bitmap: the text itself is not copied again."""
    trimmed = pc.utf8_trim_whitespace(arr)
    nonempty = pc.not_equal(pc.binary_length(trimmed), 0)
    if trimmed.null_count:
        nonempty = pc.fill_null(nonempty, False)
    if trimmed.offset or nonempty.offset or nonempty.null_count or trimmed.type != pa.string():
        return pc.if_else(nonempty, trimmed, pa.scalar(None, trimmed.type))
    buffers = trimmed.buffers()
    return pa.Array.from_buffers(pa.string(), len(trimmed), [nonempty.buffers()[1], buffers[1], buffers[2]])


def _by_dictionary(
    arr: pa.Array | pa.ChunkedArray, parse: Callable[[pa.Array], tuple[pa.Array, np.ndarray]]
) -> tuple[pa.Array, np.ndarray]:
    """Parse each distinct value once and spread the result back.

    Dates and amounts repeat heavily in ledgers (a year has 365 days), so
    parsing the dictionary of a column instead of every cell is several times faster.
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    encoded = pc.dictionary_encode(arr)
    values, bad = parse(encoded.dictionary)
    indices = encoded.indices
    idx = np.asarray(indices.to_numpy(zero_copy_only=False))
    return values.take(indices), bad[idx] if len(bad) else np.zeros(len(arr), dtype=bool)


def parse_dates(
    arr: pa.Array | pa.ChunkedArray, fmt: str, empty: Sequence[str] = ("", "00000000")
) -> tuple[pa.Array, np.ndarray]:
    """Parse text dates with ``fmt``; empty values are null, impossible dates are bad.

    strptime alone accepts 20250231 (and rolls it to March), so a value is good
    only if formatting the parsed date gives back the text.
    """
    return _by_dictionary(arr, lambda d: _parse_dates(d, fmt, empty))


def _parse_dates(arr: pa.Array, fmt: str, empty: Sequence[str]) -> tuple[pa.Array, np.ndarray]:
    text = pc.utf8_trim_whitespace(arr)
    is_empty = _mask(pc.is_in(text, value_set=pa.array(list(empty), pa.string())))
    ts = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    back = pc.strftime(ts, format=fmt)
    ok = _mask(pc.equal(back, text))
    bad = ~ok & ~is_empty
    dates = pc.cast(ts, pa.date32())
    dates = pc.if_else(pa.array(ok), dates, pa.scalar(None, pa.date32()))
    return dates, bad


def amount_pattern(decimal_sep: str, group_seps: str, scale: int) -> str:
    """Regex of a well-formed amount: digits, optional groups of exactly three, optional sign.

    A dot also counts as decimal mark when it is not a group separator (FEC
    files written with a dot), so ``10.00,0`` or ``1,2,3`` are refused, not guessed.
    """
    import re

    decimals = {decimal_sep} | ({"."} if "." not in group_seps else set())
    dec = "[" + "".join(re.escape(d) for d in sorted(decimals)) + "]"
    integer = r"\d+"
    if group_seps:
        grp = "[" + "".join(re.escape(g) for g in group_seps) + "]"
        integer = rf"(?:\d+|\d{{1,3}}(?:{grp}\d{{3}})+)"
    # (zeros past the scale are no fraction: a three-decimal currency written 12,340 is 12.34 exactly)
    fraction = rf"(?:{dec}\d{{1,{scale}}}0*)?" if scale else ""
    # one sign at most: leading (+ or -) or trailing minus, never both
    return rf"^(?:[+-]?{integer}{fraction}|{integer}{fraction}-)$"


def parse_amounts(
    arr: pa.Array | pa.ChunkedArray,
    *,
    decimal_sep: str = ",",
    group_seps: str = "",
    scale: int = 2,
) -> tuple[pa.Array, np.ndarray]:
    """Parse amounts written with the given separators; a leading or trailing minus negates.

    Accepts ``1234,56``, ``1.234,56-``, ``-1,234.56`` (per separators) and at
    most ``scale`` decimals; anything else is bad rather than silently rounded.
    Empty is null and not bad (the caller decides whether it is required).
    """
    return _by_dictionary(arr, lambda d: _parse_amounts(d, decimal_sep, group_seps, scale))


def _parse_amounts(arr: pa.Array, decimal_sep: str, group_seps: str, scale: int) -> tuple[pa.Array, np.ndarray]:
    text = pc.utf8_trim_whitespace(arr)
    is_empty = _mask(pc.equal(pc.utf8_length(text), 0))
    good = _mask(pc.match_substring_regex(text, amount_pattern(decimal_sep, group_seps, scale)))
    all_good = bool(good.all())
    if not all_good:
        text = pc.if_else(pa.array(good), text, pa.scalar("0", pa.string()))
    trailing = _mask(pc.ends_with(text, "-"))
    for g in group_seps:
        text = pc.replace_substring(text, g, "")
    if decimal_sep != ".":
        text = pc.replace_substring(text, decimal_sep, ".")
    if trailing.any():
        text = pc.utf8_rtrim(text, characters="-")
    values = pc.cast(text, pa.decimal128(18, scale))
    if trailing.any():
        values = pc.if_else(pa.array(trailing), pc.negate(values), values)
    if not all_good:
        values = pc.if_else(pa.array(good), values, pa.scalar(None, pa.decimal128(18, scale)))
    return values, ~good & ~is_empty


def parse_ints(arr: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Whole numbers (day counts, years, line items); empty is null.

    Parsed per distinct value: these columns hold a handful of values each.
    """
    return _by_dictionary(arr, _parse_ints)


def _parse_ints(arr: pa.Array) -> tuple[pa.Array, np.ndarray]:
    text = pc.utf8_trim_whitespace(arr)
    is_empty = _mask(pc.equal(pc.utf8_length(text), 0))
    good = _mask(pc.match_substring_regex(text, r"^\d{1,9}$"))
    safe = pc.if_else(pa.array(good), text, pa.scalar("0", pa.string()))
    values = pc.if_else(pa.array(good), pc.cast(safe, pa.int64()), pa.scalar(None, pa.int64()))
    return values, ~good & ~is_empty


def known_currency_mask(arr: pa.Array | pa.ChunkedArray, known: Iterable[str]) -> np.ndarray:
    return _mask(pc.is_in(arr, value_set=pa.array(sorted(known), pa.string())))


# ---------------------------------------------------------------------------
# quarantine and the loaded-files ledger
# ---------------------------------------------------------------------------

def non_null(schema: pa.Schema, *names: str) -> pa.Schema:
    """Mark key columns non-nullable so the arrow schema agrees with dlt's key hints."""
    for name in names:
        i = schema.get_field_index(name)
        schema = schema.set(i, schema.field(i).with_nullable(False))
    return schema


QUARANTINE_SCHEMA = pa.schema([
    ("quarantine_id", pa.string()), ("source_system", pa.string()), ("entity", pa.string()),
    ("file", pa.string()), ("line", pa.int64()), ("field", pa.string()), ("reason", pa.string()),
    ("raw", pa.string()), ("quarantined_at", pa.timestamp("us", tz="UTC")),
    # dlt's row id, which Arrow rows do not get: an API source's quarantine rows are dicts, and the table they
    # create first has a NOT NULL _dlt_id that a file's rows must then fill (the quarantine_id, unique already)
    ("_dlt_id", pa.string()),
])
QUARANTINE_SCHEMA = non_null(QUARANTINE_SCHEMA, "quarantine_id")
LOADED_FILES_SCHEMA = pa.schema([
    ("file_hash", pa.string()), ("source_system", pa.string()), ("entity", pa.string()),
    ("file", pa.string()), ("rows_loaded", pa.int64()), ("rows_quarantined", pa.int64()),
    ("loaded_at", pa.timestamp("us", tz="UTC")), ("encoding", pa.string()), ("format", pa.string()),
    ("size_bytes", pa.int64()),
])
LOADED_FILES_SCHEMA = non_null(LOADED_FILES_SCHEMA, "file_hash")


def quarantine_id(source_system: str, file: str, line: int | None, field: str | None) -> str:
    return hashlib.sha1(f"{source_system}\x1f{file}\x1f{line}\x1f{field or ''}".encode()).hexdigest()


@dataclass(slots=True)
class Quarantine:
    """Bad rows of one file (or of one API record: ``file`` names it, ``line`` is None), collected as they are
    found."""

    source_system: str
    entity: str | None
    file: str
    rows: list[tuple[int | None, str | None, str, str | None]] = field(default_factory=list)

    def add(self, line: int | None, field_name: str | None, reason: str, raw: str | None) -> None:
        self.rows.append((line, field_name, reason, raw))

    @property
    def lines(self) -> int:
        """Distinct lines quarantined (a line with two bad fields counts once)."""
        return len({r[0] for r in self.rows})

    def to_table(self) -> pa.Table:
        now = datetime.now(UTC)
        seen: set[str] = set()
        cols: dict[str, list[Any]] = {n: [] for n in QUARANTINE_SCHEMA.names}
        for line, fld, reason, raw in self.rows:
            qid = quarantine_id(self.source_system, self.file, line, fld)
            if qid in seen:
                continue
            seen.add(qid)
            for name, value in (
                ("quarantine_id", qid), ("source_system", self.source_system), ("entity", self.entity),
                ("file", self.file), ("line", line), ("field", fld), ("reason", reason), ("raw", raw),
                ("quarantined_at", now), ("_dlt_id", qid),
            ):
                cols[name].append(value)
        return pa.Table.from_pydict(cols, schema=QUARANTINE_SCHEMA)


@dataclass(slots=True)
class FileResult:
    """What happened to one file; also the ``raw_loaded_files`` row."""

    source_system: str
    entity: str | None
    file: str
    file_hash: str
    encoding: str
    format: str
    size_bytes: int
    rows_loaded: int = 0
    rows_quarantined: int = 0
    skipped: bool = False
    rejected: bool = False  # not in the source's format: nothing read (see reject_file)

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist([{
            "file_hash": self.file_hash, "source_system": self.source_system, "entity": self.entity,
            "file": self.file, "rows_loaded": self.rows_loaded, "rows_quarantined": self.rows_quarantined,
            "loaded_at": datetime.now(UTC), "encoding": self.encoding, "format": self.format,
            "size_bytes": self.size_bytes,
        }], schema=LOADED_FILES_SCHEMA)


@dataclass(slots=True)
class FileLoadStats:
    """Filled while a file source is extracted, so a CLI or flow can report counts.

    Pass one to a source factory (``stats=``) and read it after ``pipeline.run``.
    """

    files: list[FileResult] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files if not f.skipped)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files if not f.skipped)

    @property
    def files_loaded(self) -> int:
        return sum(1 for f in self.files if not f.skipped and not f.rejected)

    @property
    def files_rejected(self) -> int:
        return sum(1 for f in self.files if f.rejected)

    @property
    def files_skipped(self) -> int:
        return sum(1 for f in self.files if f.skipped)


class RunKeys:
    """Primary keys already emitted in this run, so the loader may skip its own deduplication.

    dlt's merge deduplicates staging rows with ``ROW_NUMBER() OVER (PARTITION BY
    key)``, which costs more than the rest of a million-row load together. The
    big resources declare their staging data deduplicated and guarantee it
    here instead: a row whose key was already emitted in the same run (the same
    document in two files dropped together) is not loaded but quarantined, so
    the warehouse never holds two rows for one key.

    Keys that pack into one int64 (see :meth:`keep_new`'s ``packed``) are checked
    with sorted numpy arrays; others through a set of Python hashes.
    """

    def __init__(self) -> None:
        self._packed = np.empty(0, dtype=np.int64)
        self._hashed: set[int] = set()

    def keep_new(self, table: pa.Table, key_columns: Sequence[str], quarantine: Quarantine,
                 packed: np.ndarray | None = None) -> pa.Table:
        """Drop (and quarantine) rows whose key was seen earlier in the run.

        ``packed`` optionally gives each row's key as a non-negative int64, -1
        where the key does not pack; those rows fall back to hashing the text.
        """
        n = table.num_rows
        dup = np.zeros(n, dtype=bool)
        if packed is None:
            packed = np.full(n, -1, dtype=np.int64)
        ok = packed >= 0
        if ok.any():
            idx = np.flatnonzero(ok)
            keys = packed[idx]
            order = np.argsort(keys, kind="stable")
            ordered = keys[order]
            first = np.ones(len(ordered), dtype=bool)
            first[1:] = ordered[1:] != ordered[:-1]
            within = np.ones(len(keys), dtype=bool)
            within[order[first]] = False  # later occurrences inside the batch
            seen = self._packed
            if len(seen):
                pos = np.minimum(np.searchsorted(seen, keys), len(seen) - 1)
                before = seen[pos] == keys
            else:
                before = np.zeros(len(keys), dtype=bool)
            dup[idx] = within | before
            fresh = ordered[first & ~before[order]]
            # seen stays sorted; a stable sort of two sorted runs of ints is a linear radix pass
            self._packed = np.sort(np.concatenate([seen, fresh]), kind="stable")
        if (~ok).any():
            idx = np.flatnonzero(~ok)
            sub = table.take(pa.array(idx))
            joined = _join_keys(sub, key_columns)
            hashed = self._hashed
            for row, key in zip(idx.tolist(), joined.to_pylist(), strict=True):
                h = hash(key)
                if h in hashed:
                    dup[row] = True
                else:
                    hashed.add(h)
        if not dup.any():
            return table
        rows = np.flatnonzero(dup)
        sub = table.take(pa.array(rows))
        texts = _join_keys(sub, key_columns).to_pylist()
        lines = sub.column("line_no").to_pylist() if "line_no" in sub.column_names else [0] * len(rows)
        for line, text in zip(lines, texts, strict=True):
            quarantine.add(int(line or 0), ",".join(key_columns),
                           f"same key ({', '.join(key_columns)}) as a row loaded from another file in this run; "
                           "the first file wins. Drop the newer export in a later run for it to replace the row",
                           (text or "").replace("\x1f", "|"))
        return table.filter(pa.array(~dup))


def _join_keys(table: pa.Table, key_columns: Sequence[str]) -> pa.Array:
    parts = [pc.fill_null(pc.cast(table.column(c), pa.string()), "") for c in key_columns]
    return pc.binary_join_element_wise(*parts, "\x1f")


# ---------------------------------------------------------------------------
# dlt glue: shared tables as variants of each file resource, and file state
# ---------------------------------------------------------------------------

QUARANTINE_HINTS: dict[str, Any] = {
    "primary_key": "quarantine_id",
    "write_disposition": "merge",
    "columns": {
        "quarantine_id": {"data_type": "text", "nullable": False},
        "source_system": {"data_type": "text"}, "entity": {"data_type": "text"},
        "file": {"data_type": "text"}, "line": {"data_type": "bigint"}, "field": {"data_type": "text"},
        "reason": {"data_type": "text"}, "raw": {"data_type": "text"},
        "quarantined_at": {"data_type": "timestamp", "timezone": True},
    },
}
LOADED_FILES_HINTS: dict[str, Any] = {
    "primary_key": "file_hash",
    "write_disposition": "merge",
    "columns": {
        "file_hash": {"data_type": "text", "nullable": False},
        "source_system": {"data_type": "text"}, "entity": {"data_type": "text"},
        "file": {"data_type": "text"}, "rows_loaded": {"data_type": "bigint"},
        "rows_quarantined": {"data_type": "bigint"},
        "loaded_at": {"data_type": "timestamp", "timezone": True},
        "encoding": {"data_type": "text"}, "format": {"data_type": "text"},
        "size_bytes": {"data_type": "bigint"},
    },
}


def with_shared_tables(resource: Any) -> Any:
    """Declare ``raw_quarantine`` and ``raw_loaded_files`` as table variants of a file resource.

    Each file is parsed once: its good rows, bad rows and ledger row come out
    of the same generator and are routed with :func:`to_table`.
    """
    for table, hints in ((QUARANTINE_TABLE, QUARANTINE_HINTS), (LOADED_FILES_TABLE, LOADED_FILES_HINTS)):
        _variant(resource, table, hints)
    return resource


def with_quarantine_table(resource: Any) -> Any:
    """Declare ``raw_quarantine`` as a table variant of an API resource (``connectors/_records.py``); a
    transformer merged by its parent (``merge_key``) must not pass that key on to the quarantine."""
    _variant(resource, QUARANTINE_TABLE, QUARANTINE_HINTS)
    return resource.apply_hints(table_name=QUARANTINE_TABLE, create_table_variant=True, merge_key="")


def _variant(resource: Any, table: str, hints: dict[str, Any]) -> Any:
    # A variant starts as a copy of the resource's hints; empty its columns and merge key first so the
    # resource's own columns (and non-null keys: a FEC's lines replace their year by entity) do not leak into
    # the shared tables.
    resource.apply_hints(table_name=table, create_table_variant=True, columns={}, merge_key="")
    resource.apply_hints(table_name=table, create_table_variant=True, **hints)
    return resource


def to_table(item: pa.Table, table_name: str) -> Any:
    import dlt

    return dlt.mark.with_table_name(item, table_name)


def loaded_hashes(state: dict[str, Any]) -> dict[str, str]:
    """The resource state's record of files already loaded: sha256 -> file name."""
    files: dict[str, str] = state.setdefault("loaded_files", {})
    return files


def finish_file(state: dict[str, Any], result: FileResult, quarantine: Quarantine,
                stats: FileLoadStats | None) -> Iterator[Any]:
    """Emit the quarantine rows and the ledger row of a parsed file and remember its hash."""
    result.rows_quarantined = quarantine.lines
    if quarantine.rows:
        yield to_table(quarantine.to_table(), QUARANTINE_TABLE)
    yield to_table(result.to_table(), LOADED_FILES_TABLE)
    loaded_hashes(state)[result.file_hash] = result.file
    if stats is not None:
        stats.files.append(result)
    log.info(
        "%s: %s loaded %d rows, quarantined %d (%s)", result.source_system, result.file,
        result.rows_loaded, result.rows_quarantined, result.encoding,
    )


REJECTED_FORMAT = "rejected"


def wrong_file_fails_source(files: Sequence[Path]) -> bool:
    """Whether a file in the wrong format fails the whole source (raises) rather than being rejected alone.

    Only when the source has that one file: nothing else is held back, and a failed
    source is louder than a logged rejection. Among several files, one stray export
    (a customer list in the line-item folder, a pain.001 among statements) must not stop
    the good files, so it is rejected and the others load.
    """
    return len(files) <= 1


def reject_file(scanned: ScannedFile, source_system: str, entity: str | None, error: WrongFormat,
                stats: FileLoadStats | None, *, fail: bool) -> Iterator[Any]:
    """Record a file that is not in the source's format, or raise ``error`` when ``fail``.

    Call it before any row of the file is emitted. The file gets a ``raw_loaded_files``
    row with ``format = 'rejected'`` and no rows, and one ``raw_quarantine`` row at line 0
    (no field) whose reason says what was expected and what was found. Its hash is not
    remembered: once a layout or mapping for it is added, the next run loads it.
    """
    if fail:
        raise error
    log.error("%s: %s rejected, nothing loaded from it: expected %s, found %s", source_system, scanned.name,
              error.expected, error.found)
    quarantine = Quarantine(source_system, entity, scanned.name)
    quarantine.add(0, None, f"file rejected: expected {error.expected}, found {error.found}", None)
    result = FileResult(source_system, entity, scanned.name, scanned.file_hash, scanned.encoding, REJECTED_FORMAT,
                        scanned.size, rejected=True)
    yield to_table(quarantine.to_table(), QUARANTINE_TABLE)
    yield to_table(result.to_table(), LOADED_FILES_TABLE)
    if stats is not None:
        stats.files.append(result)


def skip_if_loaded(state: dict[str, Any], scanned: ScannedFile, source_system: str,
                   stats: FileLoadStats | None) -> bool:
    """True (and logged) when a file with the same content hash was loaded before."""
    if scanned.file_hash not in loaded_hashes(state):
        return False
    log.info("%s: %s already loaded (sha256 %s), skipped", source_system, scanned.name, scanned.file_hash[:12])
    if stats is not None:
        stats.files.append(FileResult(
            source_system=source_system, entity=None, file=scanned.name, file_hash=scanned.file_hash,
            encoding=scanned.encoding, format="", size_bytes=scanned.size, skipped=True,
        ))
    return True


def wrong_format(path: Path, expected: str, found: str) -> WrongFormat:
    return WrongFormat(str(path), expected, found)


# ---------------------------------------------------------------------------
# small customer-master exports, mapped through YAML
# ---------------------------------------------------------------------------


# Separators a small export (customer master) may use, tried after the mapping's own: the same master
# arrives as ';' from a German or French spreadsheet, ',' from an English one, TAB or '|' from SAP.
EXPORT_DELIMITERS = (";", ",", "\t", "|")


def read_export_header(path: Path, mapping: CsvColumnMapping, encoding: str) -> dict[str, int]:
    """Resolve the mapping against the file's header; WrongFormat lists the columns found."""
    return sniff_export_header(path, mapping, encoding)[0]


def sniff_export_header(path: Path, mapping: CsvColumnMapping, encoding: str) -> tuple[dict[str, int], str]:
    """The mapping's columns in the file's header and the delimiter that splits it.

    The mapping's delimiter is tried first, then the others of ``EXPORT_DELIMITERS``; the
    first under which every required column is found wins. WrongFormat lists the columns
    as split by the delimiter that gives the most.
    """
    line = read_first_line(path, encoding)
    tried = [mapping.delimiter, *(d for d in EXPORT_DELIMITERS if d != mapping.delimiter)]
    for delimiter in tried:
        if delimiter not in line and delimiter != mapping.delimiter:
            continue
        found = mapping.resolve(split_header(line, delimiter))
        if all(f in found for f in mapping.required):
            return found, delimiter
    names = max((split_header(line, d) for d in tried), key=len)
    missing = [f for f in mapping.required if f not in mapping.resolve(names)]
    raise wrong_format(
        path, f"a customer export with columns for {list(mapping.required)} separated by one of {tried} "
        f"(accepted headers: {[list(mapping.columns[f]) for f in missing]})", f"columns {names}",
    )


def number_convention(values: Iterable[str], mapping: CsvColumnMapping) -> tuple[str, str]:
    """(decimal, group) separators of a file's amounts: the mapping's, unless its values say otherwise.

    A customer master's credit limits are written as the exporting user's locale has
    them: ``50.000,00`` from a German spreadsheet, ``50,000.00`` from an English one.
    Read with the wrong convention, ``50,000.00`` silently becomes 50. So the first of
    the mapping's convention, ``1,234.56`` and ``1.234,56`` under which *every* value is
    well formed is used (a file of plain ``50000`` keeps the mapping's); when none fits
    all values, the mapping's, and the values it refuses are quarantined.
    """
    own = (mapping.decimal_separator, mapping.group_separator)
    texts = [v.strip() for v in values if v and v.strip()]
    for decimal_sep, group_sep in dict.fromkeys([own, (".", ","), (",", ".")]):
        pattern = re.compile(amount_pattern(decimal_sep, group_sep, 2))
        if all(pattern.match(t.replace("\u00a0", "").replace("\u202f", "")) for t in texts):
            return decimal_sep, group_sep
    return own


def parse_customer_export(
    path: Path, *, entity: str, encoding: str, mapping: CsvColumnMapping, quarantine: Quarantine,
    schema: pa.Schema, normalize: dict[str, Callable[[str], str]] | None = None,
) -> pa.Table:
    """Read a (small) customer export into ``schema``; bad rows go to ``quarantine``.

    Customer masters hold thousands of rows, not millions, so a plain csv reader
    is simple and fast enough here. The delimiter is sniffed from the header and the
    number format of credit limits from the values (see :func:`number_convention`).
    """
    positions, delimiter = sniff_export_header(path, mapping, encoding)
    with path.open("r", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        rows = [(reader.line_num, row) for row in reader][1:]  # (physical line, cells), header left out
    limit_pos = positions.get("credit_limit")
    decimal_sep, group_sep = number_convention(
        (r[limit_pos] for _, r in rows if limit_pos is not None and limit_pos < len(r)), mapping)
    if (decimal_sep, group_sep) != (mapping.decimal_separator, mapping.group_separator):
        log.info("%s: credit limits read with decimal %r and grouping %r (the mapping says %r and %r)",
                 path.name, decimal_sep, group_sep, mapping.decimal_separator, mapping.group_separator)
    well_formed = re.compile(amount_pattern(decimal_sep, group_sep, 2))
    cols: dict[str, list[object]] = {n: [] for n in schema.names}
    for line, row in rows:
        if not any(v.strip() for v in row):
            continue
        raw = delimiter.join(row)

        def get(fld: str, row: list[str] = row) -> str | None:
            pos = positions.get(fld)
            value = row[pos].strip() if pos is not None and pos < len(row) else ""
            return value or None

        record: dict[str, object] = {}
        bad = False
        for fld in mapping.required:
            if get(fld) is None:
                quarantine.add(line, fld, f"{fld} is required", raw)
                bad = True
        terms = get("payment_terms_days")
        if terms is not None and not terms.isdigit():
            quarantine.add(line, "payment_terms_days", "not a whole number of days", raw)
            bad = True
        limit = get("credit_limit")
        credit_limit = None
        if limit is not None:
            try:
                if not well_formed.match(limit.replace("\u00a0", "").replace("\u202f", "")):
                    raise InvalidAmount(limit, f"not an amount with decimal {decimal_sep!r} and grouping {group_sep!r}")
                credit_limit = parse_decimal(limit, decimal_sep=decimal_sep, group_sep=group_sep)
            except InvalidAmount as exc:
                quarantine.add(line, "credit_limit", exc.reason, raw)
                bad = True
        currency = get("currency")
        if currency is not None and currency.upper() not in KNOWN_CURRENCIES:
            quarantine.add(line, "currency", "unknown currency (expected an ISO 4217 code)", raw)
            bad = True
        if bad:
            continue
        for name in schema.names:
            record[name] = get(name)
            if normalize and name in normalize and record[name] is not None:
                record[name] = normalize[name](str(record[name]))
        record.update(
            entity=entity, payment_terms_days=int(terms) if terms else None, credit_limit=credit_limit,
            source_file=path.name, line_no=line,
        )
        for upper in ("country", "currency"):
            if record.get(upper):
                record[upper] = str(record[upper]).upper()
        for name in schema.names:
            cols[name].append(record.get(name))
    return pa.Table.from_pydict(cols, schema=schema)
