"""Column hints for dlt, declared as ``name=type`` (the raw columns staging SQL relies on).

Why one helper: every API connector declares its raw columns the same way — each nullable,
``money`` meaning ``decimal(18,2)`` so amounts never pass through a float — and a misspelt
type should fail when the connector is imported, not load as a text column.
"""

from __future__ import annotations

from typing import cast

from dlt.common.data_types.typing import DATA_TYPES, TDataType
from dlt.common.schema.typing import TColumnSchema

from lettrage.errors import ConfigurationError

__all__ = ["MONEY", "nullable_columns"]

MONEY: TColumnSchema = {"data_type": "decimal", "precision": 18, "scale": 2, "nullable": True}


def nullable_columns(**types: str) -> dict[str, TColumnSchema]:
    """``{name: hint}``, every column nullable; a type is one of dlt's data types or ``"money"``."""
    cols: dict[str, TColumnSchema] = {}
    for name, data_type in types.items():
        if data_type == "money":
            cols[name] = MONEY.copy()  # a copy: callers may tighten one column without touching the others
        elif data_type in DATA_TYPES:
            cols[name] = {"data_type": cast(TDataType, data_type), "nullable": True}  # checked just above
        else:
            raise ConfigurationError(f"column {name}: {data_type!r} is neither 'money' nor a dlt data type "
                                     f"({', '.join(sorted(DATA_TYPES))})")
    return cols
