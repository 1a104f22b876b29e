"""A small delimited export (customer masters) described as data.

Canonical field -> the header names different exports use for it. The same
model serves the Sage and SAP customer exports.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CsvColumnMapping(BaseModel):
    """A delimited export: canonical field -> accepted header names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delimiter: str = Field(default=";", min_length=1, max_length=1)
    encoding: str = "utf-8"
    decimal_separator: str = ","
    group_separator: str = ""
    columns: dict[str, tuple[str, ...]]
    required: tuple[str, ...] = ()

    def resolve(self, header: list[str]) -> dict[str, int]:
        """Map canonical fields to column positions in ``header`` (case-insensitive)."""
        index = {h.strip().casefold(): i for i, h in enumerate(header)}
        found: dict[str, int] = {}
        for field, names in self.columns.items():
            for name in names:
                if name.casefold() in index:
                    found[field] = index[name.casefold()]
                    break
        return found
