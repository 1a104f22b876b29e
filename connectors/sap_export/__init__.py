"""SAP customer line items (BSID/BSAD, FBL5N) and customer master -> ``raw_sap_export_*``.

Resources (see README.md):

- ``items`` -> ``raw_sap_export_items``, merge on (entity, company_code,
  fiscal_year, document_number, line_item): a BSAD extract clears what an
  earlier BSID extract had open.
- ``customers`` -> ``raw_sap_export_customers``, merge on (entity, customer).

Both also write ``raw_quarantine`` and ``raw_loaded_files``. The layout of each
items file is recognised from its header among ``mappings/sap/layouts/*.yaml``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt

from connectors._files import (
    BATCH_ROWS,
    FileLoadStats,
    FileResult,
    Quarantine,
    RunKeys,
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
from connectors.sap_export.parse import (
    SapParseResult,
    detect_layout,
    identify,
    identify_customers,
    iter_items,
    pack_item_keys,
    parse_customers,
)
from connectors.sap_export.workbook import is_workbook, workbook_as_text
from lettrage.errors import ConfigurationError, WrongFormat
from mappings.entities import entities_file, load_entities
from mappings.sap import load_layouts, load_sap_customers_mapping

__all__ = ["FileLoadStats", "identify", "identify_customers", "sap_export_source"]

SOURCE_SYSTEM = "sap_export"


def _dec() -> dict[str, Any]:
    """A fresh hint per column: dlt writes the column name into the dict it is given."""
    return {"data_type": "decimal", "precision": 18, "scale": 2}


ITEMS_KEY = ("entity", "company_code", "fiscal_year", "document_number", "line_item")
ITEMS_COLUMNS: dict[str, Any] = {
    "entity": {"data_type": "text", "nullable": False},
    "company_code": {"data_type": "text", "nullable": False},
    "customer": {"data_type": "text"},
    "document_number": {"data_type": "text", "nullable": False},
    "fiscal_year": {"data_type": "bigint", "nullable": False},
    "line_item": {"data_type": "bigint", "nullable": False},
    "document_type": {"data_type": "text"},
    "document_date": {"data_type": "date"}, "posting_date": {"data_type": "date"},
    "baseline_date": {"data_type": "date"},
    "terms_days_1": {"data_type": "bigint"}, "terms_days_2": {"data_type": "bigint"},
    "terms_days_3": {"data_type": "bigint"}, "net_due_date": {"data_type": "date"},
    "currency": {"data_type": "text"}, "amount": _dec(), "amount_local": _dec(),
    "debit_credit": {"data_type": "text"}, "reference": {"data_type": "text"},
    "assignment": {"data_type": "text"}, "clearing_document": {"data_type": "text"},
    "clearing_date": {"data_type": "date"}, "text": {"data_type": "text"},
    # special G/L indicator (UMSKZ: A down payment, F down-payment request), document status (BSTAT: S a noted
    # item), and the invoice a partial payment or a credit refers to (REBZG / REBZJ)
    "special_gl": {"data_type": "text"}, "doc_status": {"data_type": "text"},
    "invoice_ref": {"data_type": "text"}, "invoice_ref_year": {"data_type": "bigint"},
    "source_file": {"data_type": "text"}, "line_no": {"data_type": "bigint"},
    "file_hash": {"data_type": "text"}, "layout": {"data_type": "text"},
}
CUSTOMERS_COLUMNS: dict[str, Any] = {
    "entity": {"data_type": "text", "nullable": False},
    "customer": {"data_type": "text", "nullable": False},
    "name": {"data_type": "text"}, "email": {"data_type": "text"}, "vat_id": {"data_type": "text"},
    "payment_terms_days": {"data_type": "bigint"}, "iban": {"data_type": "text"},
    "credit_limit": _dec(), "country": {"data_type": "text"}, "account_owner": {"data_type": "text"},
    "source_file": {"data_type": "text"}, "line_no": {"data_type": "bigint"},
}


def _customers_entity(path: Path, explicit: str | None) -> str:
    """The entity a customer master belongs to (it carries no company code): ``entity=``, a folder, or the only SAP one."""
    entities = load_entities()
    if explicit:
        if explicit not in entities.codes():
            raise ConfigurationError(_missing_entity_message(explicit, sorted(entities.codes())))
        return explicit
    found = entity_from_path(path, entities.codes())
    if found:
        return found
    sap = [e.code for e in entities.entities if e.sap_company_code]
    if len(sap) == 1:
        return sap[0]
    raise ConfigurationError(
        f"{path}: a SAP customer master carries no company code; pass entity=... or put the file "
        "under a folder named after the entity code"
    )


def _missing_entity_message(code: str, known: list[str]) -> str:
    """What to add to mappings/entities.yaml for ``entity=code``: items map to it by company code,
    statements by IBAN, so both belong in the entry (placeholders in <>)."""
    return (
        f"entity {code!r} (entity= of the sap_export source) is not in {entities_file()} "
        f"(it lists {known}); add it under 'entities:':\n"
        f"  - code: {code}\n"
        "    name: <legal name>\n"
        "    country: <ISO country, e.g. GB>\n"
        "    currency: <ISO currency of its books, e.g. GBP>\n"
        "    erp: sap_export\n"
        f"    sap_company_code: <the company code (BUKRS) its SAP files carry, e.g. {code}>\n"
        "    bank_ibans: [<IBAN of each of its bank accounts, so its camt.053 statements map to it>]"
    )


@dlt.source(name="sap_export")
def sap_export_source(
    location: str = dlt.config.value,
    entity: str | None = None,
    encoding: str | None = None,
    batch_rows: int = BATCH_ROWS,
    stats: Any = None,
) -> Any:
    """Line-item exports and customer masters found at ``location`` (folder, file or glob).

    Files are routed by header: a customer master (``mappings/sap/customers.yaml``, any of
    the usual delimiters) that is not also a line-item layout, else a line-item layout. A file
    in neither format is rejected (logged, recorded in ``raw_loaded_files`` and
    ``raw_quarantine``) and the other files load; it raises :class:`WrongFormat` only when it
    is the source's one file (:func:`connectors._files.wrong_file_fails_source`).
    ``entity`` is used for rows whose company code is not in ``mappings/entities.yaml``.
    """
    mapping = load_sap_customers_mapping()
    layouts = load_layouts()
    folder = Path(str(location)).is_dir()
    files = list_files(location, "*.csv") + (
        list_files(location, "*.txt") + list_files(location, "*.xlsx") if folder else []
    )
    # (an FBL5N list may carry a "Name 1" column next to "Customer": its layout decides)
    customer_files = [p for p in files if not is_workbook(p) and identify_customers(p, mapping)
                      and not identify(p, layouts)]
    item_files = [p for p in files if p not in customer_files]
    warn_unread(SOURCE_SYSTEM, location, files)
    fail = wrong_file_fails_source(files)
    return (
        with_shared_tables(items(item_files, entity, encoding, batch_rows, stats, fail_on_wrong_file=fail)),
        with_shared_tables(customers(customer_files, entity, encoding, stats)),
    )


@dlt.resource(
    name="items",
    table_name="raw_sap_export_items",
    primary_key=ITEMS_KEY,
    # merge, with staging declared deduplicated: RunKeys guarantees one row per key per run,
    # which spares the loader a ROW_NUMBER() pass that costs more than the rest of the load
    write_disposition={"disposition": "merge", "strategy": "delete-insert", "deduplicated": True},
    columns=ITEMS_COLUMNS,
)
def items(
    files: list[Path], entity: str | None = None, encoding: str | None = None, batch_rows: int = BATCH_ROWS,
    stats: FileLoadStats | None = None, *, fail_on_wrong_file: bool = True,
) -> Iterator[Any]:
    """Customer line items; merge so a cleared item (BSAD) overwrites its open version (BSID).

    A file no layout recognises raises :class:`WrongFormat` when ``fail_on_wrong_file``,
    else is rejected on its own (:func:`connectors._files.reject_file`).
    """
    state = dlt.current.resource_state()
    layouts = load_layouts()
    company_codes = load_entities().by_company_code()
    run_keys = RunKeys()
    codes: dict[str, int] = {}
    for path in files:
        workbook = is_workbook(path)
        # (a workbook has no text encoding; the text written from it is UTF-8)
        scanned = scan_file(path, "utf-8" if workbook else encoding)
        if skip_if_loaded(state, scanned, SOURCE_SYSTEM, stats):
            continue
        quarantine = Quarantine(SOURCE_SYSTEM, entity, path.name)
        parsed = SapParseResult()
        ents: set[str] = set()
        rows_loaded = 0
        with tempfile.TemporaryDirectory(prefix="lettrage-sap-") as tmp:
            try:
                text = workbook_as_text(path, layouts, Path(tmp)) if workbook else path
                match = detect_layout(text, layouts, scanned.encoding)
            except WrongFormat as exc:
                yield from reject_file(scanned, SOURCE_SYSTEM, entity, exc, stats, fail=fail_on_wrong_file)
                continue
            for table in iter_items(text, file_hash=scanned.file_hash, encoding=scanned.encoding, match=match,
                                    company_codes=company_codes, quarantine=quarantine, default_entity=entity,
                                    result=parsed, batch_rows=batch_rows):
                table = run_keys.keep_new(table, ITEMS_KEY, quarantine, packed=pack_item_keys(table, codes))
                ents.update(table.column("entity").unique().to_pylist())
                rows_loaded += table.num_rows
                if table.num_rows:
                    yield table
        file_entity = entity or (next(iter(ents)) if len(ents) == 1 else None)
        quarantine.entity = file_entity
        result = FileResult(SOURCE_SYSTEM, file_entity, path.name, scanned.file_hash, scanned.encoding,
                            f"sap:{match.layout.name}", scanned.size, rows_loaded=rows_loaded)
        yield from finish_file(state, result, quarantine, stats)


@dlt.resource(
    name="customers",
    table_name="raw_sap_export_customers",
    primary_key=("entity", "customer"),
    write_disposition="merge",
    columns=CUSTOMERS_COLUMNS,
)
def customers(
    files: list[Path], entity: str | None = None, encoding: str | None = None,
    stats: FileLoadStats | None = None,
) -> Iterator[Any]:
    """The SAP customer master (name, terms, credit limit); merge as the master changes."""
    state = dlt.current.resource_state()
    mapping = load_sap_customers_mapping()
    for path in files:
        scanned = scan_file(path, encoding)
        if skip_if_loaded(state, scanned, SOURCE_SYSTEM, stats):
            continue
        ent = _customers_entity(path, entity)
        quarantine = Quarantine(SOURCE_SYSTEM, ent, path.name)
        table = parse_customers(path, entity=ent, encoding=scanned.encoding, mapping=mapping, quarantine=quarantine)
        if table.num_rows:
            yield to_table(table, "raw_sap_export_customers")
        result = FileResult(SOURCE_SYSTEM, ent, path.name, scanned.file_hash, scanned.encoding,
                            "sap_customers", scanned.size, rows_loaded=table.num_rows)
        yield from finish_file(state, result, quarantine, stats)
