"""API pages as Arrow tables, for the Stripe and GoCardless list resources.

Why: dlt normalizes a list of dicts one record at a time in Python (flattening,
type inference, JSON writing and re-reading), which was half of a provider sync's
wall time; an Arrow table goes to the loader file almost as it is. The page is
converted once, column by column, in C++ (``pa.Table.from_pylist``), and shaped
to what the dict path produced, so the ``raw_*`` tables keep their columns:

- nested objects are flattened to ``parent__child`` columns (dlt's naming);
- lists (Stripe ``fee_details``, GoCardless ``taxes``) become JSON text in one
  column, where the dict path made a child table that no model reads;
- declared columns (the ones staging SQL relies on) get their declared type —
  always present, even on a page where every value is null; money stays integer
  minor units, decimal strings become ``decimal(18,2)`` exactly, instants become
  UTC timestamps;
- undeclared columns that are null on the whole page are left out, as dlt does
  for columns that never received data;
- ``_dlt_load_id`` and ``_dlt_id`` are filled as dlt's JSON normalizer fills them
  (dlt leaves them off Arrow tables unless told to for every Arrow source of the
  project): ``warehouse.freshness`` tells a changed raw table by its newest
  ``_dlt_load_id``, and tables first loaded from dicts have both columns NOT NULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.typing import TColumnSchema

__all__ = ["ARROW_TYPES", "current_load_id", "join_tables", "oldest_first", "page_table", "rows_table", "shape_table"]

SEPARATOR = "__"  # dlt's path separator for flattened nested fields

ARROW_TYPES: dict[str, pa.DataType] = {
    "text": pa.string(),
    "bigint": pa.int64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
    "decimal": pa.decimal128(18, 2),
}


def current_load_id() -> str | None:
    """The load id of the package dlt is extracting into; ``None`` outside an extract."""
    import dlt
    from dlt.common.storages.exceptions import CurrentLoadPackageStateNotAvailable

    try:
        return str(dlt.current.load_package_state()["load_id"])
    except CurrentLoadPackageStateNotAvailable:
        return None


def _json_text(values: pa.ChunkedArray) -> pa.Array:
    """A list column as one JSON document per row (null stays null)."""
    return pa.array(
        [None if v is None else orjson.dumps(v).decode() for v in values.to_pylist()], type=pa.string()
    )


def _flatten(table: pa.Table) -> pa.Table:
    """Structs to ``a__b`` columns (any depth), lists to JSON text.

    ``Table.flatten`` splits every struct column one level in one C++ call; it names the
    children ``a.b``, which a field name holding a dot would make ambiguous, so the names
    are made here from the schema, in the order ``flatten`` puts the children.
    """
    while True:
        names: list[str] = []
        nested = False
        for field in table.schema:
            kind = field.type
            if pa.types.is_struct(kind):
                nested = True
                names.extend(f"{field.name}{SEPARATOR}{kind.field(i).name}" for i in range(kind.num_fields))
            else:
                names.append(field.name)
        if not nested:
            break
        table = table.flatten().rename_columns(names)
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            table = table.set_column(i, field.name, _json_text(table.column(i)))
    return table


def _lists_to_json_in_place(rows: list[dict[str, Any]]) -> None:
    """Top-level lists become JSON text before Arrow sees them (the rows are ours, freshly parsed).

    Converting them to Arrow lists and back costs five times as much; keys are taken
    from the first rows (an API sends the same keys in every object), and a list under
    any other key still goes through ``_flatten``.
    """
    keys = {k for row in rows[:16] for k, v in row.items() if isinstance(v, list)}
    dumps = orjson.dumps
    for key in keys:
        for row in rows:
            value = row.get(key)
            if value is not None:
                row[key] = dumps(value).decode()


def rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    """API objects as an Arrow table as they are: nested objects as structs, top-level lists as JSON text.

    Called on each API page (or a few) as it arrives, so the page's dicts die young. Kept
    for a whole listing window (a week of history: 19,000 payments in the 1,000,000 a year
    benchmark), they reached the garbage collector's oldest generation, whose full passes
    then scanned them again and again: our cost per row grew with the size of the history
    (GoCardless 8.7 µs at 100,000 rows, 11.4 µs at 1,000,000; now 4 µs at both).
    Top-level lists in ``rows`` are replaced by their JSON text in place.
    """
    _lists_to_json_in_place(rows)
    _first_row_has_every_key(rows)
    return pa.Table.from_pylist(rows)


def _first_row_has_every_key(rows: list[dict[str, Any]]) -> None:
    """Give the first row (as ``None``) every key another row has: ``Table.from_pylist`` takes the
    column names from the first row alone, so a key it lacks would be dropped from every row.

    Stripe and GoCardless send every field of an object, null included, so the check (one
    comparison of key sets per row, ~0.15 ms a 500-row page) finds nothing there; a sparse
    object (a sandbox, a proxy that drops nulls) must not lose data.
    """
    if not rows:
        return
    first = rows[0]
    keys = first.keys()
    for row in rows:
        if row.keys() != keys:
            for key in row:
                if key not in first:
                    first[key] = None


def oldest_first(pages: Iterable[list[dict[str, Any]]]) -> pa.Table:
    """API pages listed newest first (Stripe, GoCardless) as one raw table, oldest first.

    Each page becomes a table as it arrives (:func:`rows_table`), so its dicts are gone before
    the next request rather than held for the whole listing window. A page is reversed as a
    copy: the lister reads its cursor off the page it gave.
    """
    tables = [rows_table(page[::-1]) for page in pages]
    tables.reverse()
    return join_tables(tables) if tables else pa.table({})


def join_tables(tables: list[pa.Table]) -> pa.Table:
    """Raw tables of pages one after the other, as one page of all their rows would have been.

    A column null or missing on a page takes the others' type. Pages whose shapes differ (Stripe
    events: each page holds other kinds of objects) are flattened first, then joined: pyarrow's
    permissive promotion of struct columns holding lists wrote invalid arrays (a dispute's
    ``balance_transactions`` beside charges without them: "index out of bounds" when read).
    """
    if len(tables) == 1:
        return tables[0]
    first = tables[0].schema
    if all(t.schema.equals(first) for t in tables[1:]):
        return pa.concat_tables(tables)
    return pa.concat_tables([_flatten(t) for t in tables], promote_options="permissive")


def shape_table(
    table: pa.Table,
    columns: Mapping[str, TColumnSchema],
    constants: Mapping[str, str],
    *,
    load_id: str | None = None,
    key: tuple[str, ...] = ("id",),
) -> pa.Table:
    """A :func:`rows_table` (or several joined) shaped like the dict path's ``raw_*`` rows.

    Nested objects become ``parent__child`` columns here, once per batch handed to dlt
    rather than once per API page. ``columns`` are the resource's declared columns (cast
    to their type, added as typed nulls when the table lacks them); ``constants`` are
    columns we add (``entity``).
    With ``load_id`` (see :func:`current_load_id`), rows get dlt's ``_dlt_load_id`` and
    a ``_dlt_id`` of ``<load_id>.<id>``, unique per row of a load as dlt's own.
    The ``key`` columns (the resource's primary key: every object has its id) are non-nullable, as dlt's key
    hints are: else dlt warns on every table it extracts that the two disagree.
    """
    table = _flatten(table)
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in constants:
            continue
        declared = columns.get(name)
        if declared is not None:
            column = column.cast(ARROW_TYPES[declared.get("data_type") or "text"])
        elif pa.types.is_null(column.type):
            continue
        out[name] = column
    n = table.num_rows
    for name, spec in columns.items():
        if name not in out and name not in constants:
            out[name] = pa.nulls(n, ARROW_TYPES[spec.get("data_type") or "text"])
    for name, value in constants.items():
        out[name] = pa.repeat(pa.scalar(value, pa.string()), n)
    if load_id is not None:
        out["_dlt_load_id"] = pa.repeat(pa.scalar(load_id, pa.string()), n)
        out["_dlt_id"] = pc.binary_join_element_wise(pa.scalar(load_id), out["id"].cast(pa.string()), ".")
    shaped = pa.table(out)
    fields = [f.with_nullable(False) if f.name in key and shaped.column(f.name).null_count == 0 else f
              for f in shaped.schema]
    return shaped.cast(pa.schema(fields, metadata=shaped.schema.metadata))


def page_table(
    rows: list[dict[str, Any]],
    columns: Mapping[str, TColumnSchema],
    constants: Mapping[str, str],
    *,
    load_id: str | None = None,
) -> pa.Table:
    """One page of API objects as an Arrow table shaped like the dict path's ``raw_*`` rows.

    :func:`rows_table` then :func:`shape_table`, for a page used on its own (re-read payments).
    """
    return shape_table(rows_table(rows), columns, constants, load_id=load_id)
