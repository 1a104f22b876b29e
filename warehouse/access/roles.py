"""Who may touch which table: the role model as data, with no database in sight.

    <prefix>_loader    the flows' role: owns and rewrites every table (raw, staging, canonical, marts)
    <prefix>_reader    finance: SELECT on dim_* / fct_* / mart_* only, rows of its entities only
    <prefix>_reviewer  reader + the desk: reads and appends decisions (and the payer aliases a
                       confirmation teaches), reads the outboxes of dunning and factoring
    <prefix>_admin     everything the loader may, plus managing users and their entity scope

Group roles are NOLOGIN; people get LOGIN users that are members of one group and
rows in ``access_entity_scope`` naming the entities they may see. Keeping the
classification here (pure functions) lets unit tests pin it and the SQL module
stay a plain translation.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

DEFAULT_PREFIX = "lettrage"
PREFIX_ENV = "LETTRAGE__ACCESS_PREFIX"
GROUPS = ("loader", "reader", "reviewer", "admin")
SCOPE_TABLE = "access_entity_scope"
ALL_ENTITIES = "*"

# What finance reads: the contract's public layers.
READER_PREFIXES = ("dim_", "fct_", "mart_")
# Tables of the desk a reviewer reads (with row-level security when they carry an entity).
REVIEWER_READ = ("decision", "payer_alias", "dunning_outbox", "dunning_outbox_item", "dunning_run",
                 "factoring_batch", "factoring_batch_item", "factoring_settlement", "factoring_settlement_item",
                 "factoring_exception")
# ...and the only ones it may append to: human decisions and what a confirmation teaches.
REVIEWER_INSERT = ("decision", "payer_alias")
# Append-only for everybody, owner and superuser included (enforced by a trigger).
APPEND_ONLY = ("decision",)

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_identifier(name: str, what: str = "role name") -> str:
    """Role, user and schema names go into DDL unquoted-safe: lower case letters, digits, underscore."""
    if not _NAME_RE.match(name or ""):
        from warehouse.access.errors import AccessError

        raise AccessError(f"invalid {what} {name!r}: use lower-case letters, digits and _ (max 63), "
                          "starting with a letter")
    return name


@dataclass(frozen=True, slots=True)
class RoleNames:
    """The four group roles of one installation (a prefix keeps test runs apart on a shared cluster)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        check_identifier(self.prefix, "role prefix")

    @property
    def loader(self) -> str:
        return f"{self.prefix}_loader"

    @property
    def reader(self) -> str:
        return f"{self.prefix}_reader"

    @property
    def reviewer(self) -> str:
        return f"{self.prefix}_reviewer"

    @property
    def admin(self) -> str:
        return f"{self.prefix}_admin"

    def group(self, short: str) -> str:
        """``reader`` -> ``lettrage_reader``; raises for an unknown group."""
        if short not in GROUPS:
            from warehouse.access.errors import AccessError

            raise AccessError(f"unknown role {short!r}: expected one of {', '.join(GROUPS)}")
        return f"{self.prefix}_{short}"

    @property
    def all(self) -> tuple[str, ...]:
        return tuple(self.group(g) for g in GROUPS)

    @classmethod
    def from_env(cls) -> RoleNames:
        return cls(os.environ.get(PREFIX_ENV) or DEFAULT_PREFIX)


@dataclass(frozen=True, slots=True)
class TableAccess:
    """What the reader and reviewer groups get on one table (loader and admin get everything)."""

    table: str
    reader_select: bool
    reviewer_select: bool
    reviewer_insert: bool
    row_level: bool       # has an ``entity`` column: rows filtered by the user's entity scope
    append_only: bool


def is_reader_table(table: str) -> bool:
    return table.startswith(READER_PREFIXES)


def classify(table: str, columns: set[str] | frozenset[str]) -> TableAccess:
    """Decide the grants of one table from its name and columns.

    Anything unknown (raw_*, stg_*, int_*, dlt's bookkeeping, reconciliation state)
    is loader/admin only: a new table is private until someone decides otherwise.
    """
    reader = is_reader_table(table)
    return TableAccess(
        table=table,
        reader_select=reader,
        reviewer_select=reader or table in REVIEWER_READ,
        reviewer_insert=table in REVIEWER_INSERT,
        row_level="entity" in columns and (reader or table in REVIEWER_READ),
        append_only=table in APPEND_ONLY,
    )
