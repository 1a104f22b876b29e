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

from collections.abc import Mapping
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.schema.typing import TColumnSchema

__all__ = ["ARROW_TYPES", "current_load_id", "page_table"]

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
    """Structs to ``a__b`` columns (any depth), lists to JSON text."""
    while True:
        nested = False
        columns, names = [], []
        for name, column in zip(table.column_names, table.columns, strict=True):
            kind = column.type
            if pa.types.is_struct(kind):
                nested = True
                for i in range(kind.num_fields):
                    names.append(f"{name}{SEPARATOR}{kind.field(i).name}")
                    columns.append(pc.struct_field(column, [i]))
            elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
                names.append(name)
                columns.append(_json_text(column))
            else:
                names.append(name)
                columns.append(column)
        table = pa.Table.from_arrays(columns, names=names)
        if not nested:
            return table


def _lists_to_json_in_place(rows: list[dict[str, Any]]) -> None:
    """Top-level lists become JSON text before Arrow sees them (the rows are ours, freshly parsed).

    Converting them to Arrow lists and back costs five times as much; keys are taken
    from the first rows, and a list under any other key still goes through ``_flatten``.
    """
    keys = {k for row in rows[:64] for k, v in row.items() if isinstance(v, list)}
    dumps = orjson.dumps
    for key in keys:
        for row in rows:
            value = row.get(key)
            if value is not None:
                row[key] = dumps(value).decode()


def page_table(
    rows: list[dict[str, Any]],
    columns: Mapping[str, TColumnSchema],
    constants: Mapping[str, str],
    *,
    load_id: str | None = None,
) -> pa.Table:
    """One page of API objects as an Arrow table shaped like the dict path's ``raw_*`` rows.

    ``columns`` are the resource's declared columns (cast to their type, added as typed
    nulls when the page lacks them); ``constants`` are columns we add (``entity``, ``payout``).
    Top-level lists in ``rows`` are replaced by their JSON text in place. With ``load_id``
    (see :func:`current_load_id`), rows get dlt's ``_dlt_load_id`` and a ``_dlt_id`` of
    ``<load_id>.<id>``, unique per row of a load as dlt's own.
    """
    constant_names = set(constants)
    _lists_to_json_in_place(rows)
    table = _flatten(pa.Table.from_pylist(rows))
    out: dict[str, pa.Array | pa.ChunkedArray] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        if name in constant_names:
            continue
        declared = columns.get(name)
        if declared is not None:
            column = column.cast(ARROW_TYPES[declared.get("data_type") or "text"])
        elif pa.types.is_null(column.type):
            continue
        out[name] = column
    n = table.num_rows
    for name, spec in columns.items():
        if name not in out and name not in constant_names:
            out[name] = pa.nulls(n, ARROW_TYPES[spec.get("data_type") or "text"])
    for name, value in constants.items():
        out[name] = pa.array([value] * n, type=pa.string())
    if load_id is not None:
        out["_dlt_load_id"] = pa.array([load_id] * n, type=pa.string())
        out["_dlt_id"] = pc.binary_join_element_wise(pa.scalar(load_id), out["id"].cast(pa.string()), ".")
    return pa.table(out)
