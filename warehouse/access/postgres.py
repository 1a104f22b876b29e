"""Roles, grants and row-level security on Postgres, as idempotent SQL.

``init_access`` creates the four group roles and the entity-scope table once;
``apply_access`` (re)applies grants, policies and the append-only trigger to every
table of the dataset and is cheap enough to run after every build: tables that a
build drops and recreates (``stg_*``, ``int_*``, ``mart_factoring``) come back
with no grants at all, so until it runs they are simply invisible to readers
(fail closed), never open. ``grant_user`` / ``revoke_user`` manage LOGIN users.

Row-level security: every reader-visible table with an ``entity`` column gets

    USING (entity IN (entities scoped to any role the current user is a member of)
           OR the user holds the '*' scope)

for the reader group (the reviewer inherits it); the loader and admin groups get a
``USING (true)`` policy, and the table owner (the loader after ``init``) is not
forced through RLS. Decisions are append-only for everyone, superusers included,
through a trigger; a reviewer may only append decisions in its own name, for its
own entities.

On DuckDB every function raises :class:`AccessNeedsPostgres`, except
``apply_access`` which the flows call unconditionally and which does nothing there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lettrage.errors import WarehouseError
from warehouse.access.errors import AccessError, AccessNeedsPostgres
from warehouse.access.roles import (
    ALL_ENTITIES,
    SCOPE_TABLE,
    RoleNames,
    TableAccess,
    check_identifier,
    classify,
)
from warehouse.engine import Engine

log = logging.getLogger(__name__)

_USER_RE = re.compile(r"^[a-z_][a-z0-9_.\-]{0,62}$")
_ENTITY_RE = re.compile(r"^[A-Z0-9_]{2,16}$")
TRIGGER_FUNCTION = "lettrage_append_only"


@dataclass
class AccessReport:
    """What ``apply_access`` did: per table, who reads it; plus warnings and a reason when skipped."""

    skipped: str | None = None
    tables: dict[str, str] = field(default_factory=dict)
    row_level: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def q(name: str) -> str:
    """Quote an identifier that was validated before."""
    return '"' + name.replace('"', '""') + '"'


def check_user(name: str) -> str:
    if not _USER_RE.match(name or ""):
        raise AccessError(f"invalid user name {name!r}: use lower-case letters, digits, '.', '-' or '_' "
                          "(max 63), starting with a letter")
    return name


def check_entity(code: str) -> str:
    if code != ALL_ENTITIES and not _ENTITY_RE.match(code or ""):
        raise AccessError(f"invalid entity code {code!r}: expected an entity code such as FR01, or '*' for all")
    return code


def require_postgres(engine: Engine) -> None:
    if engine.name != "postgres":
        raise AccessNeedsPostgres()


def _run(engine: Engine, statements: Iterable[str]) -> None:
    for sql in statements:
        try:
            engine.execute(sql)
        except WarehouseError as exc:
            text = str(exc)
            if "permission denied" in text or "must be owner" in text or "must have" in text:
                raise AccessError(f"refused: {text.splitlines()[0]}; run this as a superuser or a member "
                                  "of the admin role") from exc
            raise


def scope_predicate(schema: str) -> str:
    """SQL true when the current user (through any role it belongs to) may see the row's entity."""
    scope = f"{q(schema)}.{q(SCOPE_TABLE)}"
    member = "pg_has_role(current_user, r.oid, 'MEMBER')"
    return (f"(entity IN (SELECT s.entity FROM {scope} AS s JOIN pg_catalog.pg_roles AS r "
            f"ON r.rolname = s.role_name WHERE {member}) "
            f"OR EXISTS (SELECT 1 FROM {scope} AS s JOIN pg_catalog.pg_roles AS r "
            f"ON r.rolname = s.role_name WHERE s.entity = '{ALL_ENTITIES}' AND {member}))")


# -- statements (pure: unit-tested without a database) ---------------------------------------

def group_statements(roles: RoleNames, existing: set[str]) -> list[str]:
    """Create the missing group roles and wire their memberships (reviewer ⊃ reader; admin ⊃ all)."""
    out = [f"CREATE ROLE {q(r)} NOLOGIN" for r in roles.all if r not in existing]
    out += [
        f"GRANT {q(roles.reader)} TO {q(roles.reviewer)}",
        f"GRANT {q(roles.loader)} TO {q(roles.admin)} WITH ADMIN OPTION",
        f"GRANT {q(roles.reviewer)} TO {q(roles.admin)} WITH ADMIN OPTION",
        f"GRANT {q(roles.reader)} TO {q(roles.admin)} WITH ADMIN OPTION",
    ]
    return out


def table_statements(schema: str, access: TableAccess, roles: RoleNames, *, reown: bool) -> list[str]:
    """Grants, RLS and policies of one table; every statement safe to repeat."""
    t = f"{q(schema)}.{q(access.table)}"
    out: list[str] = []
    if reown:
        out.append(f"ALTER TABLE {t} OWNER TO {q(roles.loader)}")
    out += [
        f"REVOKE ALL ON {t} FROM {q(roles.reader)}, {q(roles.reviewer)}",
        f"GRANT ALL ON {t} TO {q(roles.loader)}, {q(roles.admin)}",
    ]
    if access.reader_select:
        out.append(f"GRANT SELECT ON {t} TO {q(roles.reader)}")
    if access.reviewer_select:
        out.append(f"GRANT SELECT ON {t} TO {q(roles.reviewer)}")
    if access.reviewer_insert:
        out.append(f"GRANT INSERT ON {t} TO {q(roles.reviewer)}")
    if access.append_only:
        out += [f"REVOKE UPDATE, DELETE, TRUNCATE ON {t} FROM {q(roles.loader)}, {q(roles.admin)}"]
        for name, timing in (("append_only_rows", "BEFORE UPDATE OR DELETE ON {t} FOR EACH ROW"),
                             ("append_only_truncate", "BEFORE TRUNCATE ON {t} FOR EACH STATEMENT")):
            trig = f"{access.table}_{name}"
            out += [f"DROP TRIGGER IF EXISTS {q(trig)} ON {t}",
                    f"CREATE TRIGGER {q(trig)} {timing.format(t=t)} "
                    f"EXECUTE FUNCTION {q(schema)}.{q(TRIGGER_FUNCTION)}()"]
    if access.row_level:
        pred = scope_predicate(schema)
        p = roles.prefix
        out += [
            f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY",
            f"DROP POLICY IF EXISTS {q(p + '_all')} ON {t}",
            f"CREATE POLICY {q(p + '_all')} ON {t} FOR ALL TO {q(roles.loader)}, {q(roles.admin)} "
            "USING (true) WITH CHECK (true)",
            f"DROP POLICY IF EXISTS {q(p + '_entity_read')} ON {t}",
            f"CREATE POLICY {q(p + '_entity_read')} ON {t} FOR SELECT TO {q(roles.reader)}, {q(roles.reviewer)} "
            f"USING {pred}",
            f"DROP POLICY IF EXISTS {q(p + '_entity_insert')} ON {t}",
        ]
        if access.reviewer_insert:
            own = " AND actor = current_user" if access.table == "decision" else ""
            out.append(f"CREATE POLICY {q(p + '_entity_insert')} ON {t} FOR INSERT TO {q(roles.reviewer)} "
                       f"WITH CHECK ({pred}{own})")
    return out


def scope_statements(schema: str, roles: RoleNames) -> list[str]:
    """The entity-scope table: admins manage it, everyone else sees only its own rows."""
    t = f"{q(schema)}.{q(SCOPE_TABLE)}"
    p = roles.prefix
    return [
        f"CREATE TABLE IF NOT EXISTS {t} (role_name TEXT NOT NULL, entity TEXT NOT NULL, granted_by TEXT NOT NULL "
        "DEFAULT current_user, granted_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "
        "PRIMARY KEY (role_name, entity))",
        f"REVOKE ALL ON {t} FROM {q(roles.reader)}, {q(roles.reviewer)}, {q(roles.loader)}",
        f"GRANT SELECT ON {t} TO {q(roles.reader)}, {q(roles.reviewer)}, {q(roles.loader)}",
        f"GRANT ALL ON {t} TO {q(roles.admin)}",
        f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {q(p + '_scope_own')} ON {t}",
        f"CREATE POLICY {q(p + '_scope_own')} ON {t} FOR SELECT TO {q(roles.reader)}, {q(roles.reviewer)}, "
        f"{q(roles.loader)} USING (role_name IN (SELECT r.rolname FROM pg_catalog.pg_roles AS r "
        "WHERE pg_has_role(current_user, r.oid, 'MEMBER')))",
        f"DROP POLICY IF EXISTS {q(p + '_scope_admin')} ON {t}",
        f"CREATE POLICY {q(p + '_scope_admin')} ON {t} FOR ALL TO {q(roles.admin)} USING (true) WITH CHECK (true)",
    ]


def trigger_function_sql(schema: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {q(schema)}.{q(TRIGGER_FUNCTION)}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION '% is append-only: record a new decision instead of changing one (% by %)', "
        "TG_TABLE_NAME, TG_OP, current_user USING ERRCODE = 'insufficient_privilege'; END $$"
    )


# -- execution ---------------------------------------------------------------------------------

def _existing_roles(engine: Engine, names: Sequence[str]) -> set[str]:
    rows = engine.query("SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY(:names)", {"names": list(names)})
    return {str(r[0]) for r in rows}


def _tables(engine: Engine) -> dict[str, tuple[str, set[str]]]:
    """Base tables of the dataset: name -> (owner, columns)."""
    rows = engine.query(
        "SELECT t.tablename, t.tableowner, c.column_name FROM pg_catalog.pg_tables AS t "
        "JOIN information_schema.columns AS c ON c.table_schema = t.schemaname AND c.table_name = t.tablename "
        "WHERE t.schemaname = :schema", {"schema": engine.dataset})
    out: dict[str, tuple[str, set[str]]] = {}
    for table, owner, column in rows:
        out.setdefault(str(table), (str(owner), set()))[1].add(str(column))
    return out


def _member(engine: Engine, user: str, role: str) -> bool:
    return bool(engine.query("SELECT pg_has_role(:u, :r, 'MEMBER')", {"u": user, "r": role})[0][0])


def _function_exists(engine: Engine, schema: str, name: str) -> bool:
    return bool(engine.query(
        "SELECT 1 FROM pg_catalog.pg_proc AS p JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace "
        "WHERE n.nspname = :schema AND p.proname = :name", {"schema": schema, "name": name}))


def init_access(engine: Engine, roles: RoleNames | None = None) -> AccessReport:
    """Create the group roles, the scope table and apply grants and policies (idempotent)."""
    require_postgres(engine)
    roles = roles or RoleNames.from_env()
    schema = check_identifier(engine.dataset, "dataset")
    existing = _existing_roles(engine, roles.all)
    db = str(engine.query("SELECT current_database()")[0][0])
    with engine.transaction():
        _run(engine, group_statements(roles, existing))
        _run(engine, [
            f"GRANT CONNECT ON DATABASE {q(db)} TO {', '.join(q(r) for r in roles.all)}",
            # dlt creates the <dataset>_staging schema for merges
            f"GRANT CREATE ON DATABASE {q(db)} TO {q(roles.loader)}",
            f"GRANT USAGE ON SCHEMA {q(schema)} TO {', '.join(q(r) for r in roles.all)}",
            f"GRANT CREATE ON SCHEMA {q(schema)} TO {q(roles.loader)}, {q(roles.admin)}",
        ])
        _run(engine, scope_statements(schema, roles))
        # admins manage scopes (owner: no RLS for them); the loader cannot widen anyone's view
        _run(engine, [f"ALTER TABLE {q(schema)}.{q(SCOPE_TABLE)} OWNER TO {q(roles.admin)}",
                      trigger_function_sql(schema)])
    log.info("access: group roles %s ready on schema %s", ", ".join(roles.all), schema)
    return apply_access(engine, roles)


def apply_access(engine: Engine, roles: RoleNames | None = None) -> AccessReport:
    """(Re)apply grants, row-level security and the append-only trigger to every table of the dataset.

    Call it at the end of every build (the flows' last warehouse step): dropped and
    recreated tables lost their grants. No-op on DuckDB and before ``lettrage access init``.
    """
    report = AccessReport()
    if engine.name != "postgres":
        report.skipped = "DuckDB has no roles: access control needs Postgres"
        return report
    roles = roles or RoleNames.from_env()
    schema = check_identifier(engine.dataset, "dataset")
    if len(_existing_roles(engine, roles.all)) < len(roles.all):
        report.skipped = f"roles {roles.prefix}_* not created: run `lettrage access init` first"
        log.debug("access: %s", report.skipped)
        return report
    me = str(engine.query("SELECT current_user")[0][0])
    can_reown = bool(engine.query("SELECT pg_has_role(current_user, :r, 'MEMBER')", {"r": roles.loader})[0][0])
    tables = _tables(engine)
    with engine.transaction():
        if not _function_exists(engine, schema, TRIGGER_FUNCTION):
            _run(engine, [trigger_function_sql(schema)])
        scope_owner = tables.get(SCOPE_TABLE, (me, set()))[0]
        if _member(engine, me, scope_owner):  # the admin group owns it after init; the loader leaves it alone
            _run(engine, scope_statements(schema, roles))
        for table, (owner, columns) in sorted(tables.items()):
            if table == SCOPE_TABLE:
                continue
            owned = _member(engine, me, owner)
            if not owned:
                report.warnings.append(f"{table}: owned by {owner}, not touched (run as {owner} or a superuser)")
                continue
            access = classify(table, columns)
            _run(engine, table_statements(schema, access, roles, reown=can_reown and owner != roles.loader))
            who = ["loader", "admin"] + (["reader"] if access.reader_select else []) + (
                ["reviewer"] if access.reviewer_select else [])
            report.tables[table] = ",".join(who) + ("+insert" if access.reviewer_insert else "")
            if access.row_level:
                report.row_level.append(table)
            elif access.reviewer_select:
                report.warnings.append(f"{table}: no entity column, readers see every row")
    log.info("access: %d tables on %s, %d with row-level security, %d warning(s)",
             len(report.tables), schema, len(report.row_level), len(report.warnings))
    return report


def grant_user(engine: Engine, user: str, role: str, entities: Sequence[str], *,
               roles: RoleNames | None = None, password: str | None = None) -> None:
    """Create (or keep) LOGIN user ``user``, make it a member of ``role`` and add ``entities`` to its scope."""
    require_postgres(engine)
    roles = roles or RoleNames.from_env()
    check_user(user)
    group = roles.group(role)
    codes = [check_entity(e) for e in entities]
    if role in ("reader", "reviewer") and not codes:
        raise AccessError(f"a {role} needs at least one --entity (or '*' for every entity): "
                          "without one it would see no rows at all")
    if user in roles.all:
        raise AccessError(f"{user!r} is a group role; choose a person's login name")
    missing = set(roles.all) - _existing_roles(engine, roles.all)
    if missing:
        raise AccessError(f"roles {', '.join(sorted(missing))} do not exist: run `lettrage access init` first")
    exists = bool(_existing_roles(engine, [user]))
    pw = " PASSWORD " + _literal(password) if password else ""
    stmts = [f"CREATE ROLE {q(user)} LOGIN{pw}" if not exists else f"ALTER ROLE {q(user)} LOGIN{pw}",
             f"GRANT {q(group)} TO {q(user)}",
             f"ALTER ROLE {q(user)} SET search_path TO {q(engine.dataset)}"]
    if role == "admin":
        stmts.append(f"ALTER ROLE {q(user)} CREATEROLE")
    if role == "loader":  # tables the flows create belong to the group, so any loader login can rebuild them
        stmts.append(f"ALTER ROLE {q(user)} SET role TO {q(group)}")
    with engine.transaction():
        _run(engine, stmts)
        for code in codes:
            engine.execute(
                f"INSERT INTO {q(engine.dataset)}.{q(SCOPE_TABLE)} (role_name, entity) VALUES (:u, :e) "
                "ON CONFLICT (role_name, entity) DO NOTHING", {"u": user, "e": code})
    log.info("access: %s is %s for %s", user, group, ", ".join(codes) or "no entity")


def revoke_user(engine: Engine, user: str, *, entities: Sequence[str] | None = None, role: str | None = None,
                roles: RoleNames | None = None) -> None:
    """Remove entities from a user's scope; with ``role`` also its membership; with neither, everything."""
    require_postgres(engine)
    roles = roles or RoleNames.from_env()
    check_user(user)
    codes = [check_entity(e) for e in entities or ()]
    with engine.transaction():
        if codes:
            engine.execute(f"DELETE FROM {q(engine.dataset)}.{q(SCOPE_TABLE)} WHERE role_name = :u "
                           "AND entity = ANY(:e)", {"u": user, "e": codes})
        elif role is None:
            engine.execute(f"DELETE FROM {q(engine.dataset)}.{q(SCOPE_TABLE)} WHERE role_name = :u", {"u": user})
        groups = [roles.group(role)] if role else ([] if codes else list(roles.all))
        if groups and _existing_roles(engine, [user]):
            _run(engine, [f"REVOKE {', '.join(q(g) for g in groups)} FROM {q(user)}"])
    log.info("access: revoked %s from %s", ", ".join(codes) or role or "everything", user)


def list_access(engine: Engine, roles: RoleNames | None = None) -> list[dict[str, Any]]:
    """One row per member of a group role: user, group, can log in, entities in scope."""
    require_postgres(engine)
    roles = roles or RoleNames.from_env()
    scope: dict[str, list[str]] = {}
    if engine.table_exists(SCOPE_TABLE):
        for role_name, entity in engine.query(f"SELECT role_name, entity FROM {q(SCOPE_TABLE)} ORDER BY 1, 2"):
            scope.setdefault(str(role_name), []).append(str(entity))
    rows = engine.query(
        "SELECT u.rolname, g.rolname, u.rolcanlogin FROM pg_catalog.pg_auth_members AS m "
        "JOIN pg_catalog.pg_roles AS g ON g.oid = m.roleid JOIN pg_catalog.pg_roles AS u ON u.oid = m.member "
        "WHERE g.rolname = ANY(:groups) AND NOT (u.rolname = ANY(:groups)) ORDER BY 1, 2", {"groups": list(roles.all)})
    return [{"user": str(u), "role": str(g), "login": bool(login), "entities": scope.get(str(u), [])}
            for u, g, login in rows]


def drop_access(engine: Engine, roles: RoleNames, users: Sequence[str] = ()) -> None:
    """Remove users and group roles of ``roles`` from this database and the cluster (tests, uninstall)."""
    require_postgres(engine)
    for name in [check_user(u) for u in users] + list(reversed(roles.all)):
        if _existing_roles(engine, [name]):
            _run(engine, [f"DROP OWNED BY {q(name)} CASCADE", f"DROP ROLE {q(name)}"])


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
