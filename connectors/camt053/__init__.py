"""camt.053 bank statements -> ``raw_camt053_entries``.

Resource (see README.md): ``entries`` -> ``raw_camt053_entries``, merge on the entity, the account and
``bank_line_id`` (the bank's AcctSvcrRef, ``#n`` for its n-th use within one
statement, ``/n`` for the n-th transaction of a batch): a statement delivered
twice, or an intraday statement followed by the end-of-day one, updates rather
than duplicates, and two entries the bank gave one reference are both kept. Also writes ``raw_quarantine``
and ``raw_loaded_files``; files already loaded (same sha256) are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

from connectors._files import (
    FileLoadStats,
    FileResult,
    Quarantine,
    entity_from_path,
    finish_file,
    list_files,
    reject_file,
    scan_file,
    skip_if_loaded,
    warn_unread,
    with_shared_tables,
    wrong_file_fails_source,
)
from connectors.camt053.parse import (
    ENTRIES_KEY,
    Camt053ParseResult,
    check_well_formed,
    detect_version,
    identify,
    iter_entries,
)
from lettrage.errors import ConfigurationError, WrongFormat
from mappings.entities import entities_file, load_entities

__all__ = ["FileLoadStats", "camt053_source", "identify"]

SOURCE_SYSTEM = "camt053"
ENTRIES_COLUMNS: dict[str, Any] = {
    "bank_line_id": {"data_type": "text", "nullable": False},
    "entity": {"data_type": "text"}, "account_iban": {"data_type": "text", "nullable": False},
    "statement_id": {"data_type": "text"}, "booking_date": {"data_type": "date"},
    "value_date": {"data_type": "date"},
    "amount": {"data_type": "decimal", "precision": 18, "scale": 2},
    "currency": {"data_type": "text"}, "status": {"data_type": "text"}, "credit_debit": {"data_type": "text"},
    "bank_tx_code": {"data_type": "text"}, "counterparty_name": {"data_type": "text"},
    "counterparty_iban": {"data_type": "text"}, "remittance_unstructured": {"data_type": "text"},
    "creditor_reference": {"data_type": "text"}, "referred_documents": {"data_type": "text"},
    "end_to_end_id": {"data_type": "text"},
    "return_reason": {"data_type": "text"}, "batch_size": {"data_type": "bigint"},
    "additional_info": {"data_type": "text"}, "source_file": {"data_type": "text"},
    "file_hash": {"data_type": "text"}, "entry_ref": {"data_type": "text"}, "line_no": {"data_type": "bigint"},
    "camt_version": {"data_type": "text"},
    "instructed_amount": {"data_type": "decimal", "precision": 18, "scale": 2},
    "instructed_currency": {"data_type": "text"}, "exchange_rate": {"data_type": "text"},
    # a statement and its correction in one load: the entry of the later delivery is kept (parse.ENTRIES_SCHEMA)
    "delivered": {"data_type": "text", "dedup_sort": "desc"},
    "copy_indicator": {"data_type": "text"},
}


@dlt.source(name="camt053")
def camt053_source(
    location: str = dlt.config.value,
    entity: str | None = None,
    stats: Any = None,
    batch_rows: int = 50_000,
    reread: bool = False,
) -> Any:
    """Statements found at ``location`` (folder searched for ``*.xml``, a file, or a glob).

    ``reread`` reads every statement again, those loaded before too (a backfill restoring lines lost from
    ``raw_camt053_entries``): the merge key and the later delivery's precedence keep it idempotent.

    The entity is ``entity`` if given, else the account IBAN's entry in
    ``mappings/entities.yaml`` (``bank_ibans``), else a parent folder named
    after the entity code. A file that is not a camt.053 statement (a pain.001 in the
    folder) is rejected and the others load; it raises :class:`WrongFormat` only when it
    is the source's one file.
    """
    files = list_files(location, "*.xml")
    warn_unread(SOURCE_SYSTEM, location, files)
    return with_shared_tables(entries(files, entity, stats, batch_rows,
                                      fail_on_wrong_file=wrong_file_fails_source(files), reread=reread))


@dlt.resource(
    name="entries",
    table_name="raw_camt053_entries",
    # (the entity and the account first: two banks number entries alike, "20261105000001", and keyed by the
    # reference alone the second account's load replaced the first's line; stg_camt053__bank_lines tells the two
    # apart in bank_line_id)
    primary_key=ENTRIES_KEY,
    write_disposition="merge",
    columns=ENTRIES_COLUMNS,
)
def entries(
    files: list[Path], entity: str | None = None, stats: FileLoadStats | None = None, batch_rows: int = 50_000,
    *, fail_on_wrong_file: bool = True, reread: bool = False,
) -> Iterator[Any]:
    """Booked (and pending) statement entries; merge so a re-delivered statement updates in place.

    A file that is not camt.053 raises :class:`WrongFormat` when ``fail_on_wrong_file``, else
    is rejected on its own (:func:`connectors._files.reject_file`).
    """
    state = dlt.current.resource_state()
    entities = load_entities()
    by_iban = entities.by_iban()
    for path in files:
        scanned = scan_file(path, "utf-8")  # XML declares its own encoding; lxml honours it
        if not reread and skip_if_loaded(state, scanned, SOURCE_SYSTEM, stats):
            continue
        folder_entity = entity_from_path(path, entities.codes())
        try:
            version = detect_version(path)
            check_well_formed(path)
        except WrongFormat as exc:
            yield from reject_file(scanned, SOURCE_SYSTEM, entity or folder_entity, exc, stats,
                                   fail=fail_on_wrong_file)
            continue

        def entity_for_iban(iban: str | None, folder_entity: str | None = folder_entity,
                            path: Path = path) -> str | None:
            if entity:
                return entity
            found = by_iban.get((iban or "").replace(" ", "").upper()) or folder_entity
            if found is None:
                raise ConfigurationError(
                    f"{path}: account {iban} is in no entity's bank_ibans ({entities_file()}); "
                    "pass entity=... or put the file under a folder named after the entity code"
                )
            return found

        quarantine = Quarantine(SOURCE_SYSTEM, entity or folder_entity, path.name)
        parsed = Camt053ParseResult()
        yield from iter_entries(path, file_hash=scanned.file_hash, quarantine=quarantine,
                                entity_for_iban=entity_for_iban, result=parsed, batch_rows=batch_rows)
        file_entity = entity or next((by_iban.get(i) for i in parsed.ibans if i in by_iban), folder_entity)
        quarantine.entity = file_entity
        result = FileResult(SOURCE_SYSTEM, file_entity, path.name, scanned.file_hash, "xml",
                            f"camt.053.{version}", scanned.size, rows_loaded=parsed.rows_loaded)
        yield from finish_file(state, result, quarantine, stats)
