"""Errors of access control, in the project's tree (:mod:`lettrage.errors`)."""

from __future__ import annotations

from lettrage.errors import ConfigurationError, WarehouseError


class AccessError(WarehouseError):
    """An access command was refused or given a bad argument (names the role, user or table)."""


class AccessNeedsPostgres(ConfigurationError):
    """Access control was asked of a DuckDB warehouse, which has no users to tell apart."""

    def __init__(self, url: str = "") -> None:
        where = f" ({url})" if url else ""
        super().__init__(
            f"access control needs Postgres: this warehouse is a DuckDB file{where}, read and written by "
            "whoever can open the file, so there are no roles, users or row-level security to set. "
            "Protect the file with file-system permissions, or point LETTRAGE__WAREHOUSE_URL at "
            "postgresql://user@host:5432/db and run `lettrage access init` again."
        )
