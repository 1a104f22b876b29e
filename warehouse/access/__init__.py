"""Access rights, the audit trail and data protection of the warehouse.

    roles      the role model as data (which group reads or appends which table)
    postgres   idempotent SQL: group roles, LOGIN users, grants, row-level security per entity
    audit      the story of one invoice, in order
    errors     AccessError, AccessNeedsPostgres

The flows call :func:`apply_access` after every build; it does nothing on DuckDB
or before ``lettrage access init``.
"""

from __future__ import annotations

from warehouse.access.audit import Event, invoice_history, render_history
from warehouse.access.errors import AccessError, AccessNeedsPostgres
from warehouse.access.postgres import (
    AccessReport,
    apply_access,
    drop_access,
    grant_user,
    init_access,
    list_access,
    revoke_user,
)
from warehouse.access.roles import RoleNames, classify

__all__ = [
    "AccessError", "AccessNeedsPostgres", "AccessReport", "Event", "RoleNames", "apply_access", "classify",
    "drop_access", "grant_user", "init_access", "invoice_history", "list_access", "render_history", "revoke_user",
]
