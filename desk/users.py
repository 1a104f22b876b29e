"""Local desk accounts: the ``desk_user`` table, roles and per-entity scope.

The sqlmodel class describes the table; DDL and writes go through the engine
seam (as for ``decision``), so the same code runs on DuckDB and Postgres.
Roles are ordered: each one can do what the ones before it can.

    reader             sees figures and rows of the entities in scope (IBANs and e-mails masked)
    reviewer           + confirms, rejects or splits suggested matches, marks for the ERP, comments
    credit_controller  + disputes, promises to pay, write-off requests; sees customers' e-mail addresses
    admin              + manages users (every change written to ``desk_audit``)
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from sqlmodel import Field, SQLModel

from desk.security import DUMMY_HASH, hash_password, verify_password
from lettrage.errors import DataError
from warehouse.contract import BOOL, INT, TEXT, TS
from warehouse.engine import Engine
from warehouse.schema import ensure_table

ROLES = ("reader", "reviewer", "credit_controller", "admin")
DEPARTMENTS = ("sales", "logistics", "billing")  # where a dispute can be assigned (desk.actions re-exports it)
ALL_ENTITIES = "*"


class DeskUser(SQLModel, table=True):
    """One person who may sign in to the desk."""

    __tablename__ = "desk_user"

    username: str = Field(primary_key=True)
    display_name: str | None = None
    role: str
    entities: str  # comma-separated entity codes, or "*" for every entity
    password_hash: str | None = None  # None: only the trusted SSO header can sign this user in
    email: str | None = None  # where assignments and comments are notified
    department: str | None = None  # sales, logistics, billing...: disputes assigned to it show in "my queue"
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = None
    # raised by signing out and by a password reset: a session cookie carries the value it was issued with, and one
    # from before no longer signs anybody in (a copy of the cookie outlived signing out until its expiry)
    session_epoch: int = 0
    created_at: datetime
    updated_at: datetime


def _logical(annotation: Any) -> str:
    base = ([a for a in get_args(annotation) if a is not type(None)] or [annotation])[0]
    return {bool: BOOL, int: INT, datetime: TS}.get(base, TEXT)


USER_COLUMNS = [(name, _logical(f.annotation)) for name, f in DeskUser.model_fields.items()]


@dataclass(frozen=True)
class Principal:
    """Who is asking: what every page and action checks."""

    username: str
    role: str
    entities: tuple[str, ...]  # ("*",) for all
    display_name: str | None = None
    email: str | None = None
    department: str | None = None
    session_epoch: int = 0  # what a session cookie of this user must carry (DeskUser.session_epoch)

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)

    def sees(self, entity: str) -> bool:
        return ALL_ENTITIES in self.entities or entity in self.entities

    def scope(self, known: list[str]) -> list[str]:
        """The entities of ``known`` this user may see, in order."""
        return [e for e in known if self.sees(e)]

    def covers(self, entities: str | list[str] | tuple[str, ...]) -> bool:
        """Whether a scope of ``entities`` (a list, or comma-separated as stored) lies within this user's: what an
        admin may give, or manage. Every entity ("*") only within a scope of every entity: an admin of DE01 could
        give itself "*" and then read and act on FR01."""
        wanted = _scope_list(entities.split(",") if isinstance(entities, str) else entities)
        return ALL_ENTITIES in self.entities or all(e != ALL_ENTITIES and e in self.entities for e in wanted)


def ensure_user_table(engine: Engine) -> None:
    ensure_table(engine, "desk_user", USER_COLUMNS)


def _scope_list(entities: list[str] | tuple[str, ...]) -> list[str]:
    """Entity codes as a scope stores them: trimmed, upper case, blanks dropped, "*" kept."""
    return [e.strip().upper() if e.strip() != ALL_ENTITIES else ALL_ENTITIES for e in entities if e.strip()]


def _check(role: str, entities: list[str]) -> str:
    if role not in ROLES:
        raise DataError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    cleaned = _scope_list(entities)
    if not cleaned:
        raise DataError("a desk user needs at least one entity in scope (or '*' for all)")
    for e in cleaned:
        if e != ALL_ENTITIES and not e.isalnum():
            raise DataError(f"entity code {e!r} must be letters and digits (e.g. FR01)")
    return ",".join(cleaned)


class DeskAudit(SQLModel, table=True):
    """One change to desk accounts (who changed whom, how); append-only."""

    __tablename__ = "desk_audit"

    id: str = Field(primary_key=True)
    actor: str
    action: str
    target: str
    detail_json: str | None = None
    created_at: datetime


AUDIT_COLUMNS = [(name, _logical(f.annotation)) for name, f in DeskAudit.model_fields.items()]


def audit(engine: Engine, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    ensure_table(engine, "desk_audit", AUDIT_COLUMNS)
    row = DeskAudit(id=uuid.uuid4().hex, actor=actor, action=action, target=target,
                    detail_json=json.dumps(detail, sort_keys=True, default=str) if detail else None,
                    created_at=datetime.now(UTC))
    data = row.model_dump()
    engine.execute(f"INSERT INTO desk_audit ({', '.join(data)}) VALUES ({', '.join(':' + c for c in data)})", data)


def audit_log(engine: Engine, limit: int = 100) -> list[dict[str, Any]]:
    if not engine.table_exists("desk_audit"):
        return []
    return engine.query_dicts(f"SELECT * FROM desk_audit ORDER BY created_at DESC LIMIT {int(limit)}")


def add_user(engine: Engine, username: str, *, role: str, entities: list[str], password: str | None,
             display_name: str | None = None, actor: str = "cli", keep_password: bool = False,
             email: str | None = None, department: str | None = None) -> DeskUser:
    """Create a user or replace its role, scope and password (an admin's reset); audited.

    ``keep_password``: an existing user keeps its password when ``password`` is None
    (the admin page changes a role or scope without resetting the password).
    """
    username = username.strip().lower()
    if not username or not username.replace(".", "").replace("-", "").replace("_", "").replace("@", "").isalnum():
        raise DataError(f"user name {username!r} must be letters, digits, '.', '-', '_' or '@'")
    if password is not None and len(password) < 8:
        raise DataError("a desk password needs at least 8 characters")
    email = (email or "").strip() or None
    if email and ("@" not in email or any(ch.isspace() for ch in email)):
        raise DataError(f"not an e-mail address: {email!r}")
    department = (department or "").strip().lower() or None
    if department and department not in DEPARTMENTS:
        raise DataError(f"unknown department {department!r}; expected one of {', '.join(DEPARTMENTS)}")
    ensure_user_table(engine)
    now = datetime.now(UTC)
    user = DeskUser(username=username, display_name=display_name, role=role, entities=_check(role, entities),
                    password_hash=hash_password(password) if password else None, email=email,
                    department=department, created_at=now, updated_at=now)
    data = user.model_dump()
    with engine.transaction():
        old = engine.query_dicts('SELECT * FROM desk_user WHERE username = :u', {"u": username})
        if old:
            data["created_at"] = old[0]["created_at"]
            # (a new password ends the sessions signed in with the old one)
            data["session_epoch"] = int(old[0].get("session_epoch") or 0) + (1 if password else 0)
            if keep_password and password is None:
                data["password_hash"] = old[0]["password_hash"]
            if keep_password:  # the admin page: a blank field keeps what the account had
                data["email"] = data["email"] or old[0]["email"]
                data["department"] = data["department"] or old[0]["department"]
            engine.execute('DELETE FROM desk_user WHERE username = :u', {"u": username})
        cols = ", ".join(f'"{c}"' for c in data)
        engine.execute(f"INSERT INTO desk_user ({cols}) VALUES ({', '.join(':' + c for c in data)})", data)
        audit(engine, actor, "update_user" if old else "add_user", username, {
            "role": user.role, "entities": user.entities, "department": user.department,
            "before": {"role": old[0]["role"], "entities": old[0]["entities"]} if old else None,
            "password": "reset" if password else ("kept" if old and keep_password else "none")})
    from desk.db import sync_db_role

    sync_db_role(engine, username, user.role, user.entities.split(","))  # the database enforces the new scope
    return user


_USER_COLUMNS = ("username, display_name, email, department, role, entities, active, failed_logins, locked_until, "
                 "created_at, updated_at")


def list_users(engine: Engine) -> list[dict[str, Any]]:
    ensure_user_table(engine)
    return engine.query_dicts(f"SELECT {_USER_COLUMNS} FROM desk_user ORDER BY username")


def find_user(engine: Engine, username: str) -> dict[str, Any] | None:
    """One user's row as :func:`list_users` gives it, active or not (an admin checks whom it is about to change)."""
    ensure_user_table(engine)
    rows = engine.query_dicts(f"SELECT {_USER_COLUMNS} FROM desk_user WHERE username = :u",
                              {"u": username.strip().lower()})
    return rows[0] if rows else None


def get_principal(engine: Engine, username: str) -> Principal | None:
    """The active user as a :class:`Principal`, or None."""
    if not engine.table_exists("desk_user"):
        return None
    # SELECT *: a table from before e-mail and department (added by the next add_user) still answers
    rows = engine.query_dicts("SELECT * FROM desk_user WHERE username = :u", {"u": username.strip().lower()})
    if not rows or not rows[0]["active"]:
        return None
    return _principal(rows[0])


def _principal(r: dict[str, Any]) -> Principal:
    return Principal(r["username"], r["role"], tuple(str(r["entities"]).split(",")), r["display_name"],
                     r.get("email"), r.get("department"), int(r.get("session_epoch") or 0))


def end_sessions(engine: Engine, username: str) -> None:
    """Sign the user out everywhere: every session cookie issued so far stops signing it in (signing out)."""
    ensure_user_table(engine)
    engine.execute("UPDATE desk_user SET session_epoch = coalesce(session_epoch, 0) + 1 WHERE username = :u",
                   {"u": username.strip().lower()})


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def authenticate(engine: Engine, username: str, password: str, *, max_failures: int, lock_seconds: int,
                 now: datetime | None = None) -> tuple[Principal | None, str]:
    """Check a password; returns (principal, "") or (None, why) with why in {"invalid", "locked"}.

    The lock is written on the row, so it holds for every desk process and
    survives a restart; an unknown name costs the same scrypt time as a known one.
    """
    now = now or datetime.now(UTC)
    ensure_user_table(engine)
    rows = engine.query_dicts("SELECT * FROM desk_user WHERE username = :u", {"u": username.strip().lower()})
    if not rows:
        verify_password(password, DUMMY_HASH)
        return None, "invalid"
    row = rows[0]
    locked = _aware(row["locked_until"])
    if locked and locked > now:
        return None, "locked"
    if not row["active"] or not verify_password(password, row["password_hash"]):
        fails = int(row["failed_logins"] or 0) + 1
        until = datetime.fromtimestamp(now.timestamp() + lock_seconds, UTC) if fails >= max_failures else None
        engine.execute("UPDATE desk_user SET failed_logins = :f, locked_until = :l WHERE username = :u",
                       {"f": 0 if until else fails, "l": until, "u": row["username"]})
        return None, "locked" if until else "invalid"
    if row["failed_logins"] or row["locked_until"]:
        engine.execute("UPDATE desk_user SET failed_logins = 0, locked_until = NULL WHERE username = :u",
                       {"u": row["username"]})
    return _principal(row), ""
