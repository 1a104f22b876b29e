"""Sage FEC export and Sage customer export -> ``raw_sage_fec_*``.

Resources (see README.md):

- ``fec_lines`` -> ``raw_sage_fec_lines``, merge on (entity, journal_code,
  fiscal_year, ecriture_num, line_in_entry) with merge key (entity, fiscal_year): a re-export of a fiscal
  year replaces all its lines (an entry deleted before it goes too), and the
  next year's entries, numbered anew, are entries of their own.
- ``customers`` -> ``raw_sage_fec_customers``, merge on (entity, customer_account).

Both also write ``raw_quarantine`` (bad rows) and ``raw_loaded_files`` (one row
per accepted file). Files already loaded (same sha256, kept in the resource
state committed with the data) are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

from connectors._files import (
    BATCH_ROWS,
    FileLoadStats,
    FileResult,
    Quarantine,
    entity_from_path,
    finish_file,
    list_files,
    reject_file,
    scan_file,
    skip_if_loaded,
    to_table,
    warn_unread,
    with_shared_tables,
    wrong_file_fails_source,
)
from connectors.sage_fec.parse import (
    FecParseResult,
    RunEntries,
    identify,
    identify_customers,
    iter_fec_lines,
    parse_customers,
    read_customers_header,
    read_fec_header,
)
from lettrage.errors import ConfigurationError, WrongFormat
from mappings.entities import entities_file, load_entities
from mappings.sage_fec import load_fec_conventions, load_fec_customers_mapping

__all__ = ["FileLoadStats", "identify", "identify_customers", "resolve_entity", "sage_fec_source"]

SOURCE_SYSTEM = "sage_fec"
_FEC_NAME = re.compile(r"^(\d{9})FEC(\d{8})", re.IGNORECASE)

# An entry is its journal and number in its fiscal year: packages number entries anew each year.
LINES_KEY = ("entity", "fiscal_year", "journal_code", "ecriture_num", "line_in_entry")
LINES_COLUMNS: dict[str, Any] = {
    "entity": {"data_type": "text", "nullable": False},
    "journal_code": {"data_type": "text", "nullable": False},
    "journal_lib": {"data_type": "text"},
    "ecriture_num": {"data_type": "text", "nullable": False},
    "ecriture_date": {"data_type": "date"},
    "compte_num": {"data_type": "text"}, "compte_lib": {"data_type": "text"},
    "comp_aux_num": {"data_type": "text"}, "comp_aux_lib": {"data_type": "text"},
    "piece_ref": {"data_type": "text"}, "piece_date": {"data_type": "date"},
    "ecriture_lib": {"data_type": "text"},
    "debit": {"data_type": "decimal", "precision": 18, "scale": 2},
    "credit": {"data_type": "decimal", "precision": 18, "scale": 2},
    "ecriture_let": {"data_type": "text"}, "date_let": {"data_type": "date"},
    "valid_date": {"data_type": "date"},
    "montant_devise": {"data_type": "decimal", "precision": 18, "scale": 2},
    "idevise": {"data_type": "text"},
    "line_in_entry": {"data_type": "bigint", "nullable": False},
    # (nullable: a table loaded before the fiscal year was kept has none in its older rows)
    "fiscal_year": {"data_type": "date"},
    "source_file": {"data_type": "text"}, "line_no": {"data_type": "bigint"}, "file_hash": {"data_type": "text"},
}
CUSTOMERS_COLUMNS: dict[str, Any] = {
    "entity": {"data_type": "text", "nullable": False},
    "customer_account": {"data_type": "text", "nullable": False},
    "name": {"data_type": "text"}, "email": {"data_type": "text"}, "vat_id": {"data_type": "text"},
    "siren": {"data_type": "text"}, "payment_terms_days": {"data_type": "bigint"},
    "iban": {"data_type": "text"},
    "credit_limit": {"data_type": "decimal", "precision": 18, "scale": 2},
    "country": {"data_type": "text"}, "account_owner": {"data_type": "text"}, "currency": {"data_type": "text"},
    "payment_terms": {"data_type": "text"},
    "source_file": {"data_type": "text"}, "line_no": {"data_type": "bigint"},
}


def resolve_entity(path: Path, explicit: str | None = None) -> str:
    """Entity of a file: explicit, else the SIREN of a ``<SIREN>FEC<date>`` name, else a parent folder."""
    entities = load_entities()
    if explicit:
        if explicit not in entities.codes():
            raise ConfigurationError(f"entity {explicit!r} is not in {entities_file()} ({sorted(entities.codes())})")
        return explicit
    match = _FEC_NAME.match(path.name)
    if match and match.group(1) in entities.by_siren():
        return entities.by_siren()[match.group(1)]
    found = entity_from_path(path, entities.codes())
    if found:
        return found
    raise ConfigurationError(
        f"{path}: cannot tell which entity this file belongs to; pass entity=..., name the FEC "
        f"<SIREN>FEC<AAAAMMJJ>.txt with a SIREN listed in {entities_file()}, or put it under a folder "
        "named after the entity code"
    )


@dlt.source(name="sage_fec")
def sage_fec_source(
    location: str = dlt.config.value,
    entity: str | None = None,
    encoding: str | None = None,
    batch_rows: int = BATCH_ROWS,
    stats: Any = None,
) -> Any:
    """FEC files and customer exports found at ``location`` (folder, file or glob).

    ``encoding`` forces a file encoding instead of detecting it. ``stats``
    (a :class:`FileLoadStats`) is filled with per-file counts for reporting. A file that is
    not a FEC (or customer export) is rejected and the others load; it raises
    :class:`WrongFormat` only when it is the source's one file.
    """
    conventions = load_fec_conventions()
    files = list_files(location, "*")
    if Path(str(location)).is_dir():
        fec_files = [p for p in files if _glob(p, conventions.fec_file_glob)]
        customer_files = [p for p in files if _glob(p, conventions.customers_file_glob)]
        warn_unread(SOURCE_SYSTEM, location, fec_files + customer_files)
    else:  # an explicit file or glob: route each file by its header
        mapping = load_fec_customers_mapping()
        customer_files = [p for p in files if identify_customers(p, mapping) and not identify(p)]
        fec_files = [p for p in files if p not in customer_files]
    fail = wrong_file_fails_source(fec_files + customer_files)
    return (
        with_shared_tables(fec_lines(fec_files, entity, encoding, batch_rows, stats, fail_on_wrong_file=fail)),
        with_shared_tables(customers(customer_files, entity, encoding, stats, fail_on_wrong_file=fail)),
    )


def _glob(path: Path, pattern: str) -> bool:
    """Case-insensitive: exports arrive as ``...FEC...TXT`` as often as ``...fec....txt``."""
    import fnmatch

    return fnmatch.fnmatch(path.name.lower(), pattern.lower())


@dlt.resource(
    name="fec_lines",
    table_name="raw_sage_fec_lines",
    primary_key=LINES_KEY,
    # A FEC is a whole fiscal year: the lines of each (entity, fiscal year) a load brings replace all of that year's,
    # so an entry the accountant deleted before re-exporting goes too (merged by line, it stayed, an invoice owed
    # for ever). Years the load does not bring are kept.
    merge_key=("entity", "fiscal_year"),
    # merge, with staging declared deduplicated: an entry met twice in one run is quarantined,
    # which spares the loader a ROW_NUMBER() pass that costs more than the rest of the load
    write_disposition={"disposition": "merge", "strategy": "delete-insert", "deduplicated": True},
    columns=LINES_COLUMNS,
)
def fec_lines(
    files: list[Path], entity: str | None = None, encoding: str | None = None, batch_rows: int = BATCH_ROWS,
    stats: FileLoadStats | None = None, *, fail_on_wrong_file: bool = True,
) -> Iterator[Any]:
    """Every line of every new FEC; merge because a re-export of a year replaces its lines.

    A file that is not a FEC raises :class:`WrongFormat` when ``fail_on_wrong_file``, else is
    rejected on its own (:func:`connectors._files.reject_file`).
    """
    state = dlt.current.resource_state()
    conventions = load_fec_conventions()
    run_entries = RunEntries()  # (journal, entry) of earlier files in this run, per entity
    for path in files:
        scanned = scan_file(path, encoding)
        if skip_if_loaded(state, scanned, SOURCE_SYSTEM, stats):
            continue
        try:
            read_fec_header(path, scanned.encoding)  # WrongFormat before anything is emitted
        except WrongFormat as exc:
            yield from reject_file(scanned, SOURCE_SYSTEM, entity, exc, stats, fail=fail_on_wrong_file)
            continue
        ent = resolve_entity(path, entity)
        quarantine = Quarantine(SOURCE_SYSTEM, ent, path.name)
        parsed = FecParseResult()
        rows_loaded = 0
        known = load_entities().get(ent)
        for table in iter_fec_lines(path, entity=ent, file_hash=scanned.file_hash, encoding=scanned.encoding,
                                    conventions=conventions, quarantine=quarantine, result=parsed,
                                    batch_rows=batch_rows, run_entries=run_entries,
                                    fiscal_year_end=known.fiscal_year_end if known else "12-31"):
            rows_loaded += table.num_rows
            yield table
        result = FileResult(SOURCE_SYSTEM, ent, path.name, scanned.file_hash, scanned.encoding, "fec",
                            scanned.size, rows_loaded=rows_loaded)
        yield from finish_file(state, result, quarantine, stats)


@dlt.resource(
    name="customers",
    table_name="raw_sage_fec_customers",
    primary_key=("entity", "customer_account"),
    write_disposition="merge",
    columns=CUSTOMERS_COLUMNS,
)
def customers(
    files: list[Path], entity: str | None = None, encoding: str | None = None,
    stats: FileLoadStats | None = None, *, fail_on_wrong_file: bool = True,
) -> Iterator[Any]:
    """The Sage customer export: terms, contact, IBAN, credit limit; merge as the master changes.

    A file without the mapped columns raises or is rejected as in :func:`fec_lines`.
    """
    state = dlt.current.resource_state()
    mapping = load_fec_customers_mapping()
    for path in files:
        scanned = scan_file(path, encoding)
        if skip_if_loaded(state, scanned, SOURCE_SYSTEM, stats):
            continue
        try:
            read_customers_header(path, mapping, scanned.encoding)
        except WrongFormat as exc:
            yield from reject_file(scanned, SOURCE_SYSTEM, entity, exc, stats, fail=fail_on_wrong_file)
            continue
        ent = resolve_entity(path, entity)
        quarantine = Quarantine(SOURCE_SYSTEM, ent, path.name)
        table = parse_customers(path, entity=ent, encoding=scanned.encoding, mapping=mapping,
                                quarantine=quarantine)
        if table.num_rows:
            yield to_table(table, "raw_sage_fec_customers")
        result = FileResult(SOURCE_SYSTEM, ent, path.name, scanned.file_hash, scanned.encoding,
                            "sage_customers", scanned.size, rows_loaded=table.num_rows)
        yield from finish_file(state, result, quarantine, stats)
