"""Parsing a FEC (Fichier des Écritures Comptables) and a Sage customer export.

Pure functions over files: no dlt here, so every rule is unit-tested directly.
A FEC is read as text columns in batches and parsed vectorised; rows that fail
a check are quarantined with their line, field and reason.

Accounting rule enforced here: an entry (JournalCode, EcritureNum) is loaded
whole or not at all. If one of its lines is bad, or its debits and credits do
not balance, every line of it goes to quarantine: half an entry in the
warehouse would unbalance the books downstream. Entries must be contiguous in
the file (the FEC lists lines in entry order); a batch boundary never splits one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors._files import (
    BATCH_ROWS,
    MONEY_TYPE,
    DelimitedBatch,
    Quarantine,
    clean_text,
    constant_column,
    is_blank_row,
    known_currency_mask,
    non_null,
    parse_amounts,
    parse_customer_export,
    parse_dates,
    read_delimited,
    read_export_header,
    read_first_line,
    row_texts,
    sniff_encoding,
    split_header,
    wrong_format,
)
from lettrage.money import KNOWN_CURRENCIES
from mappings.csv_export import CsvColumnMapping
from mappings.sage_fec import FEC_COLUMNS, FEC_OPTIONAL, FEC_SIGNED, FecConventions

FEC_DATE = "%Y%m%d"
DATE_COLUMNS = {"EcritureDate": "ecriture_date", "PieceDate": "piece_date", "DateLet": "date_let",
                "ValidDate": "valid_date"}
TEXT_COLUMNS = {
    "JournalCode": "journal_code", "JournalLib": "journal_lib", "EcritureNum": "ecriture_num",
    "CompteNum": "compte_num", "CompteLib": "compte_lib", "CompAuxNum": "comp_aux_num",
    "CompAuxLib": "comp_aux_lib", "PieceRef": "piece_ref", "EcritureLib": "ecriture_lib",
    "EcritureLet": "ecriture_let", "Idevise": "idevise",
}
LINES_SCHEMA = pa.schema([
    ("entity", pa.string()), ("journal_code", pa.string()), ("journal_lib", pa.string()),
    ("ecriture_num", pa.string()), ("ecriture_date", pa.date32()), ("compte_num", pa.string()),
    ("compte_lib", pa.string()), ("comp_aux_num", pa.string()), ("comp_aux_lib", pa.string()),
    ("piece_ref", pa.string()), ("piece_date", pa.date32()), ("ecriture_lib", pa.string()),
    ("debit", MONEY_TYPE), ("credit", MONEY_TYPE), ("ecriture_let", pa.string()), ("date_let", pa.date32()),
    ("valid_date", pa.date32()), ("montant_devise", MONEY_TYPE), ("idevise", pa.string()),
    ("line_in_entry", pa.int64()), ("source_file", pa.string()), ("line_no", pa.int64()),
    ("file_hash", pa.string()), ("fiscal_year", pa.date32()),
])
LINES_SCHEMA = non_null(LINES_SCHEMA, "entity", "fiscal_year", "journal_code", "ecriture_num", "line_in_entry")
CUSTOMERS_SCHEMA = pa.schema([
    ("entity", pa.string()), ("customer_account", pa.string()), ("name", pa.string()), ("email", pa.string()),
    ("vat_id", pa.string()), ("siren", pa.string()), ("payment_terms_days", pa.int64()),
    ("iban", pa.string()), ("credit_limit", MONEY_TYPE), ("country", pa.string()),
    ("account_owner", pa.string()), ("currency", pa.string()), ("payment_terms", pa.string()),
    ("source_file", pa.string()), ("line_no", pa.int64()),
])
CUSTOMERS_SCHEMA = non_null(CUSTOMERS_SCHEMA, "entity", "customer_account")
_MANDATORY = [c for c in FEC_COLUMNS if c not in FEC_OPTIONAL]
_DEBIT_CREDIT = ("Debit", "Credit")
# Sens as exports write it: D/C (the text of the law), +1/-1, or the word
_SENS_DEBIT = frozenset({"D", "+1", "1", "DEBIT", "DÉBIT"})
_SENS_CREDIT = frozenset({"C", "-1", "CREDIT", "CRÉDIT"})


@dataclass(frozen=True, slots=True)
class FecHeader:
    """Where each FEC column sits in a file, and its separator."""

    delimiter: str
    names: list[str]
    positions: dict[str, int]

    @property
    def signed(self) -> bool:
        """The file gives Montant and Sens instead of Debit and Credit."""
        return (all(c in self.positions for c in FEC_SIGNED)
                and not any(c in self.positions for c in _DEBIT_CREDIT))


def read_fec_header(path: Path, encoding: str = "utf-8") -> FecHeader:
    """Detect the separator (TAB or ``|``) and map the legal column names, any case.

    Raises :class:`WrongFormat` listing the columns the file does have.
    """
    line = read_first_line(path, encoding)
    delimiter = "\t" if "\t" in line else "|" if "|" in line else None
    names = split_header(line, delimiter) if delimiter else [line[:200]]
    lookup = {n.casefold(): i for i, n in enumerate(names)}
    positions = {c: lookup[c.casefold()] for c in FEC_COLUMNS + FEC_SIGNED if c.casefold() in lookup}
    header = FecHeader(delimiter=delimiter or "", names=names, positions=positions)
    missing = [c for c in _MANDATORY if c not in positions and not (header.signed and c in _DEBIT_CREDIT)]
    if delimiter is None or missing:
        raise wrong_format(
            path, f"a FEC with the 18 columns of art. A47 A-1 LPF separated by TAB or '|' (missing {missing}; "
            "Montant and Sens may replace Debit and Credit)",
            f"columns {names}",
        )
    return header


def identify(path: Path) -> bool:
    """Is this a FEC? Its header carries the legal column names, TAB or ``|`` separated."""
    try:
        read_fec_header(path, sniff_encoding(path))
    except Exception:
        return False
    return True


class SeenKeys:
    """A growing set of text keys, checked a whole array at a time.

    Entries are checked per batch with ``pyarrow.compute.is_in`` instead of a
    Python set: a million-line FEC has ~300,000 entries, and a Python string
    per entry cost more CPU than parsing every column of the file.
    """

    def __init__(self) -> None:
        self._chunks: list[pa.Array] = []

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks)

    def contains(self, keys: pa.Array) -> np.ndarray:
        """Which of ``keys`` were added before."""
        if not self._chunks:
            return np.zeros(len(keys), dtype=bool)
        if len(self._chunks) > 1:
            self._chunks = [pa.concat_arrays(self._chunks)]
        found = pc.is_in(keys, value_set=self._chunks[0])
        return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)

    def add(self, keys: pa.Array) -> None:
        if len(keys):
            self._chunks.append(keys.cast(pa.string()))

    def add_all(self, other: SeenKeys) -> None:
        for chunk in other._chunks:
            self.add(chunk)


class RunEntries:
    """Entries of the files already parsed in this run, per entity (entries are per entity)."""

    def __init__(self) -> None:
        self.by_entity: dict[str, SeenKeys] = {}

    def of(self, entity: str) -> SeenKeys:
        return self.by_entity.setdefault(entity, SeenKeys())


@dataclass(slots=True)
class FecParseResult:
    rows_loaded: int = 0
    entries_loaded: int = 0
    entries_quarantined: int = 0


def iter_fec_lines(
    path: Path,
    *,
    entity: str,
    file_hash: str,
    encoding: str,
    conventions: FecConventions,
    quarantine: Quarantine,
    result: FecParseResult | None = None,
    batch_rows: int = BATCH_ROWS,
    run_entries: RunEntries | None = None,
    fiscal_year_end: str = "12-31",
) -> Iterator[pa.Table]:
    """Yield the good lines of a FEC as arrow tables (``LINES_SCHEMA``); bad ones go to ``quarantine``.

    ``run_entries`` holds the entries of files loaded earlier in the same run
    (updated here): an entry met again is quarantined whole, so one load never
    carries two versions of an entry and the loader need not deduplicate.
    ``fiscal_year_end`` (MM-DD, the entity's) dates each line's fiscal year (``fiscal_year``: its closing date).
    """
    result = result if result is not None else FecParseResult()
    year_end = (int(fiscal_year_end[:2]), int(fiscal_year_end[3:]))
    header = read_fec_header(path, encoding)
    closed = SeenKeys()  # entries of this file so far
    earlier = (run_entries if run_entries is not None else RunEntries()).of(entity)
    held: DelimitedBatch | None = None
    # entries that lost a line the file could not split into the FEC's columns: (line, why) by "journal\x1fnum"
    broken: dict[str, tuple[int, str]] = {}
    batches = read_delimited(path, encoding=encoding, delimiter=header.delimiter, quote_char=None,
                             header=header.names, batch_rows=batch_rows)
    batch: DelimitedBatch | None = next(batches, None)
    while batch is not None:
        following = next(batches, None)
        for bad in batch.bad_lines:
            quarantine.add(bad.line, None, bad.reason, bad.text)
            broken.setdefault(_broken_key(bad.text, header), (bad.line, bad.reason))
        table, line_no = batch.table, batch.line_no
        blank = is_blank_row(table)
        if blank.any():
            keep = np.flatnonzero(~blank)
            table, line_no = table.take(pa.array(keep)), line_no[keep]
        if held is not None:
            table = pa.concat_tables([held.table, table])
            line_no = np.concatenate([held.line_no, line_no])
            held = None
        keys = _entry_keys(table, header)
        if following is not None and table.num_rows:
            # Hold back the last entry: its remaining lines may be in the next batch.
            starts = _run_starts(keys)
            cut = int(np.flatnonzero(starts)[-1])
            held = DelimitedBatch(table.slice(cut), line_no[cut:], [])
            table, line_no, keys = table.slice(0, cut), line_no[:cut], keys.slice(0, cut)
        if table.num_rows:
            out = _parse_block(path, table, line_no, keys, header, entity, file_hash, conventions,
                               quarantine, closed, earlier, result, year_end, broken)
            if out.num_rows:
                result.rows_loaded += out.num_rows
                yield out
        batch = following
        if batch is None and held is not None:
            batch, held = DelimitedBatch(held.table, held.line_no, []), None
    earlier.add_all(closed)


def _col(table: pa.Table, header: FecHeader, name: str) -> pa.ChunkedArray:
    pos = header.positions.get(name)
    if pos is None:
        return pa.chunked_array([constant_column("", table.num_rows)])
    return table.column(pos)


def _broken_key(text: str, header: FecHeader) -> str:
    """The entry a line the file could not split into its columns belongs to, read from its first fields
    (JournalCode and EcritureNum come first in a FEC, before any free text that could hold a separator)."""
    fields = text.split(header.delimiter)

    def at(name: str) -> str:
        pos = header.positions.get(name)
        return fields[pos].strip() if pos is not None and pos < len(fields) else ""

    return f"{at('JournalCode')}\x1f{at('EcritureNum')}"


def _entry_keys(table: pa.Table, header: FecHeader) -> pa.Array:
    journal = pc.utf8_trim_whitespace(_col(table, header, "JournalCode"))
    num = pc.utf8_trim_whitespace(_col(table, header, "EcritureNum"))
    joined = pc.binary_join_element_wise(journal, num, "\x1f")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def _fiscal_years(entry_dates: pa.Array | pa.ChunkedArray, year_end: tuple[int, int]) -> pa.Array:
    """The closing date of the fiscal year of each entry date (null where the date is): the fiscal year
    ends on ``year_end`` (month, day), the entity's ``fiscal_year_end`` in mappings/entities.yaml."""
    days = np.asarray(_combined(entry_dates).to_numpy(zero_copy_only=False), dtype="datetime64[D]")
    valid = ~np.isnat(days)
    month_start = days.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    dom = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    year = days.astype("datetime64[Y]").astype(np.int64)  # years since 1970
    after = (month > year_end[0]) | ((month == year_end[0]) & (dom > year_end[1]))
    closing = ((year + after).astype("datetime64[Y]").astype("datetime64[M]") + (year_end[0] - 1)).astype(
        "datetime64[D]") + (year_end[1] - 1)
    return pa.array(np.where(valid, closing, np.datetime64("NaT")), type=pa.date32(), mask=~valid)


def _run_starts(keys: pa.Array) -> np.ndarray:
    starts = np.ones(len(keys), dtype=bool)
    if len(keys) > 1:
        changed = pc.not_equal(keys.slice(1), keys.slice(0, len(keys) - 1))
        starts[1:] = np.asarray(changed.to_numpy(zero_copy_only=False), dtype=bool)
    return starts


def _debit_credit(amount: pa.Array | pa.ChunkedArray, sens: pa.ChunkedArray,
                  ) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """Debit and Credit from Montant and its Sens (a line whose Sens is neither side is bad)."""
    side = pc.utf8_upper(pc.utf8_trim_whitespace(pc.fill_null(sens, "")))
    is_debit = pc.is_in(side, value_set=pa.array(sorted(_SENS_DEBIT)))
    is_credit = pc.is_in(side, value_set=pa.array(sorted(_SENS_CREDIT)))
    zero = pa.scalar(Decimal(0), MONEY_TYPE)
    debit = pc.if_else(is_debit, amount, zero)
    credit = pc.if_else(is_credit, amount, zero)
    bad = ~np.asarray(pc.or_(is_debit, is_credit).to_numpy(zero_copy_only=False), dtype=bool)
    return _combined(debit), _combined(credit), bad


def _combined(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _parse_block(
    path: Path, table: pa.Table, line_no: np.ndarray, keys: pa.Array, header: FecHeader, entity: str,
    file_hash: str, conventions: FecConventions, quarantine: Quarantine, closed: SeenKeys, earlier: SeenKeys,
    result: FecParseResult, year_end: tuple[int, int], broken: dict[str, tuple[int, str]] | None = None,
) -> pa.Table:
    n = table.num_rows
    problems: list[tuple[np.ndarray, str, str]] = []  # (bad mask, field, reason)
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    for fec_name, out_name in TEXT_COLUMNS.items():
        cols[out_name] = clean_text(_col(table, header, fec_name))
    for fec_name, out_name in DATE_COLUMNS.items():
        cols[out_name], bad = parse_dates(_col(table, header, fec_name), FEC_DATE, empty=("",))
        problems.append((bad, fec_name, "not a date in the FEC format AAAAMMJJ"))
        if fec_name in ("EcritureDate",):
            missing = np.asarray(pc.is_null(cols[out_name]).to_numpy(zero_copy_only=False)) & ~bad
            problems.append((missing, fec_name, "EcritureDate is mandatory"))
    amounts = (("Montant", "montant"),) if header.signed else (("Debit", "debit"), ("Credit", "credit"))
    for fec_name, out_name in (*amounts, ("Montantdevise", "montant_devise")):
        values, bad = parse_amounts(_col(table, header, fec_name), decimal_sep=",", group_seps="")
        if out_name != "montant_devise":
            values = pc.fill_null(values, pa.scalar(Decimal(0), MONEY_TYPE))
        cols[out_name] = values
        problems.append((bad, fec_name, "not an amount (digits, decimal comma or dot, at most 2 decimals but for zeros)"))
    if header.signed:
        cols["debit"], cols["credit"], bad = _debit_credit(cols.pop("montant"), _col(table, header, "Sens"))
        problems.append((bad, "Sens", "Sens must be D or C (or +1 / -1)"))
    journal_null = np.asarray(pc.is_null(cols["journal_code"]).to_numpy(zero_copy_only=False))
    num_null = np.asarray(pc.is_null(cols["ecriture_num"]).to_numpy(zero_copy_only=False))
    problems.append((journal_null, "JournalCode", "JournalCode is mandatory"))
    problems.append((num_null, "EcritureNum", "EcritureNum is mandatory"))
    idevise = pc.utf8_upper(cols["idevise"])
    cols["idevise"] = idevise
    has_cur = np.asarray(pc.is_valid(idevise).to_numpy(zero_copy_only=False))
    problems.append((has_cur & ~known_currency_mask(idevise, KNOWN_CURRENCIES), "Idevise",
                     "unknown currency (expected an ISO 4217 code)"))
    if conventions.require_aux_on_customer_accounts and conventions.customer_account_prefixes:
        # A collective account (411, 411000 ...) needs CompAuxNum to name the customer; an individual
        # account (411DUPONT, 4110042: how many packages other than Sage keep customers) names it itself.
        compte = pc.fill_null(cols["compte_num"], "")
        unpadded = pc.utf8_rtrim(compte, characters="0")
        collective = np.zeros(n, dtype=bool)
        for prefix in conventions.customer_account_prefixes:
            collective |= np.asarray(pc.equal(unpadded, prefix.rstrip("0") or prefix).to_numpy(zero_copy_only=False))
        aux_missing = np.asarray(pc.is_null(cols["comp_aux_num"]).to_numpy(zero_copy_only=False))
        problems.append((collective & aux_missing, "CompAuxNum",
                         f"collective customer account line ({'/'.join(conventions.customer_account_prefixes)} "
                         "and zeros) without CompAuxNum: cannot tell which customer"))

    # Entries: runs of equal (JournalCode, EcritureNum), known across files by their fiscal year too
    # (packages number entries anew each year: VT 1 of 2025 and VT 1 of 2026 are two entries).
    fiscal_year = _fiscal_years(cols["ecriture_date"], year_end)
    starts = _run_starts(keys)
    run_id = np.cumsum(starts) - 1
    start_idx = np.flatnonzero(starts)
    line_in_entry = np.arange(n, dtype=np.int64) - start_idx[run_id] + 1
    run_keys = pc.binary_join_element_wise(
        keys.take(pa.array(start_idx)),
        pc.fill_null(pc.cast(fiscal_year.take(pa.array(start_idx)), pa.string()), ""), "\x1f")
    row_bad = np.zeros(n, dtype=bool)
    for mask, _, _ in problems:
        row_bad |= mask
    n_runs = len(start_idx)
    run_bad_row = np.zeros(n_runs, dtype=bool)
    run_bad_row[run_id[row_bad]] = True
    reopened = np.zeros(n_runs, dtype=bool)
    elsewhere = np.zeros(n_runs, dtype=bool)
    # An entry seen before is refused: earlier in this file (or twice in this batch) means its
    # lines are not contiguous; in an earlier file of the run, the first file wins.
    encoded = pc.dictionary_encode(run_keys)
    _, first = np.unique(np.asarray(encoded.indices.to_numpy(zero_copy_only=False)), return_index=True)
    reopened[:] = True
    reopened[first] = False
    reopened |= closed.contains(run_keys)
    if len(earlier):
        elsewhere = ~reopened & earlier.contains(run_keys)
    closed.add(encoded.dictionary)
    diff = pc.subtract(cols["debit"], cols["credit"])
    sums = pa.table({"run": pa.array(run_id), "diff": diff}).group_by("run").aggregate([("diff", "sum")])
    order = np.argsort(sums.column("run").to_numpy())
    diff_by_run = sums.column("diff_sum").take(pa.array(order))
    tolerance = pa.scalar(conventions.balance_tolerance, pa.decimal128(18, 2))
    unbalanced = np.asarray(pc.greater(pc.abs(diff_by_run), tolerance).to_numpy(zero_copy_only=False), dtype=bool)

    # Quarantine: the bad fields of each bad row, then every line of each bad entry.
    bad_entry = run_bad_row | unbalanced | reopened | elsewhere
    entry_rows = bad_entry[run_id]
    if entry_rows.any():
        rows = np.flatnonzero(entry_rows)
        texts = dict(zip(rows.tolist(), row_texts(table, rows, header.delimiter), strict=True))
        for mask, fld, reason in problems:
            for r in np.flatnonzero(mask).tolist():
                quarantine.add(int(line_no[r]), fld, reason, texts.get(r))
        first_line = line_no[start_idx]
        for r in rows.tolist():
            run = run_id[r]
            if row_bad[r]:
                continue
            journal, num, year = run_keys[int(run)].as_py().split("\x1f")
            lost = (broken or {}).get(f"{journal}\x1f{num}")
            if run_bad_row[run]:
                reason = f"entry {journal} {num} has a bad line; all its lines are quarantined"
            elif unbalanced[run] and lost is not None:
                # (not "unbalanced": the entry is whole in the file, one of its lines could not be read)
                reason = (f"entry {journal} {num} has a bad line (line {lost[0]}: {lost[1]}); all its lines are "
                          "quarantined")
            elif unbalanced[run]:
                reason = (f"entry {journal} {num} is unbalanced: debit - credit = {diff_by_run[int(run)].as_py()}; "
                          "all its lines are quarantined")
            elif elsewhere[run]:
                reason = (f"entry {journal} {num} of the fiscal year ending {year} was already loaded from another "
                          "file in this run; the first file wins. Drop the newer export in a later run for it to "
                          "replace the entry")
            elif reopened[run]:
                reason = (f"entry {journal} {num} continues at line {first_line[run]} after other entries; "
                          "FEC lines of one entry must be contiguous")
            else:  # pragma: no cover - every bad entry is one of the three above
                reason = f"entry {journal} {num} was rejected"
            quarantine.add(int(line_no[r]), "EcritureNum", reason, texts.get(r))
        result.entries_quarantined += int(bad_entry.sum())
    result.entries_loaded += int((~bad_entry).sum())

    keep = None if not entry_rows.any() else pa.array(np.flatnonzero(~entry_rows))
    m = n if keep is None else len(keep)
    out = {
        "entity": constant_column(entity, m),
        **{name: cols[name] for name in LINES_SCHEMA.names if name in cols},
        "line_in_entry": pa.array(line_in_entry),
        "fiscal_year": fiscal_year,
        "source_file": constant_column(path.name, n),
        "line_no": pa.array(line_no.astype(np.int64)),
        "file_hash": constant_column(file_hash, n),
    }
    arrays = []
    for name in LINES_SCHEMA.names:
        arr = out[name]
        if name != "entity" and keep is not None:
            arr = arr.take(keep)
        arrays.append(pc.cast(arr, LINES_SCHEMA.field(name).type))
    return pa.Table.from_arrays(arrays, schema=LINES_SCHEMA)


# ---------------------------------------------------------------------------
# customer export
# ---------------------------------------------------------------------------


def read_customers_header(path: Path, mapping: CsvColumnMapping, encoding: str) -> dict[str, int]:
    return read_export_header(path, mapping, encoding)


def identify_customers(path: Path, mapping: CsvColumnMapping) -> bool:
    try:
        read_customers_header(path, mapping, sniff_encoding(path))
    except Exception:
        return False
    return True


def parse_customers(path: Path, *, entity: str, encoding: str, mapping: CsvColumnMapping,
                    quarantine: Quarantine) -> pa.Table:
    """The Sage customer export as ``CUSTOMERS_SCHEMA`` rows; bad rows go to ``quarantine``."""
    return parse_customer_export(path, entity=entity, encoding=encoding, mapping=mapping,
                                 quarantine=quarantine, schema=CUSTOMERS_SCHEMA)
