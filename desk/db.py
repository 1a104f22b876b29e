"""One warehouse connection per request, briefly — the engine seam, never around it.

DuckDB allows one writer process and, inside a process, refuses a read-only and
a read-write connection to the same file at once; the desk therefore serialises
its DuckDB connections with a process lock (a demo runs one desk process).
Postgres connections run concurrently.

The database enforces the user's rights, not only the page (Postgres). Once
``lettrage access init`` has created the group roles of :mod:`warehouse.access`,
every desk user gets a Postgres role of its own (``<prefix>_desk_<name>_<hash>``,
NOLOGIN): a member of the access group its desk role maps to (:data:`DB_GROUP`),
with its entity scope as rows of ``access_entity_scope`` — exactly what the
row-level-security policies read through ``current_user``. A request of a
signed-in user runs ``SET ROLE`` to that role for its whole connection, so a
query that forgot its entity filter still returns no row of another entity.

What stays on the desk's own login (:func:`service`): the desk's application
tables (``desk_user``, ``desk_comment``, ``desk_audit``, ``desk_notification``),
reconciliation bookkeeping and the writes a decision triggers (the decision row
itself is written with the desk user's name as actor, which is not a Postgres
role, and the refresh after it rewrites fct_*/mart_* as the loader). Writes are
preceded by a read of their target under the user's role, so a write outside
the scope finds nothing to act on.

DuckDB has no roles: there the page-level checks of :mod:`desk.app` (scope →
404, role → 403) and the entity filter in every query of :mod:`desk.queries`
are the only enforcement.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lettrage.config import WarehouseConfig
from lettrage.errors import WarehouseError
from warehouse.engine import Engine, connect

if TYPE_CHECKING:
    from desk.users import Principal

log = logging.getLogger("lettrage.desk")
_DUCKDB_LOCK = threading.RLock()

# Desk role -> the warehouse.access group whose grants it needs. A reader reads; every role that may act
# reads the desk's tables (decisions, outboxes) too, which is what the reviewer group is for. The desk
# admin manages desk accounts, not the warehouse: it gets no loader/admin rights on data through the desk.
DB_GROUP = {"reader": "reader", "reviewer": "reviewer", "credit_controller": "reviewer", "admin": "reviewer"}
_ROLE_ATTR = "_desk_db_role"


def db_role_name(prefix: str, username: str) -> str:
    """The Postgres role of a desk user: readable, collision-free (hash) and a valid identifier (≤ 63)."""
    stem = re.sub(r"[^a-z0-9_]", "_", username.lower())[:24]
    digest = hashlib.sha1(username.lower().encode()).hexdigest()[:8]
    return f"{prefix}_desk_{stem}_{digest}"


def _roles():  # type: ignore[no-untyped-def]
    from warehouse.access import RoleNames

    return RoleNames.from_env()


def access_ready(engine: Engine) -> bool:
    """True on Postgres after ``lettrage access init`` on this warehouse: the group roles exist and the dataset holds
    its scope table. Roles belong to the whole Postgres server, a dataset to one warehouse: another warehouse's
    ``access init`` on the same server (a second installation, a test database) made every desk of this one write
    a scope table it does not have, and adding a user failed."""
    if engine.name != "postgres":
        return False
    from warehouse.access.postgres import SCOPE_TABLE

    roles = _roles()
    rows = engine.query("SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = ANY(:n)", {"n": list(roles.all)})
    return int(rows[0][0]) == len(roles.all) and engine.table_exists(SCOPE_TABLE)


def sync_db_role(engine: Engine, username: str, role: str, entities: Sequence[str]) -> str | None:
    """Create or update the Postgres role of one desk user: its group and its entity scope.

    Idempotent; a no-op (None) on DuckDB and before ``lettrage access init``. The desk's login becomes a
    member of the role (``SET ROLE`` needs it) unless it is a superuser. Runs as the desk's login, which
    must be a member of the access admin group (it writes ``access_entity_scope``).
    """
    if not access_ready(engine):
        return None
    from warehouse.access.postgres import SCOPE_TABLE, check_entity, q

    roles = _roles()
    name = db_role_name(roles.prefix, username)
    group = roles.group(DB_GROUP[role])
    codes = [check_entity(e) for e in entities]
    me = str(engine.query("SELECT current_user")[0][0])
    superuser = bool(engine.query("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user")[0][0])
    exists = bool(engine.query("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = :r", {"r": name}))
    with engine.transaction():
        if not exists:
            engine.execute(f"CREATE ROLE {q(name)} NOLOGIN")
        others = [g for g in roles.all if g != group]
        engine.execute(f"REVOKE {', '.join(q(g) for g in others)} FROM {q(name)}")
        engine.execute(f"GRANT {q(group)} TO {q(name)}")
        if not superuser:
            engine.execute(f"GRANT {q(name)} TO {q(me)}")
        scope = f"{q(engine.dataset)}.{q(SCOPE_TABLE)}"
        engine.execute(f"DELETE FROM {scope} WHERE role_name = :r", {"r": name})
        for code in codes:
            engine.execute(f"INSERT INTO {scope} (role_name, entity) VALUES (:r, :e)", {"r": name, "e": code})
    log.info("desk: Postgres role %s is %s for %s", name, group, ",".join(codes))
    return name


def sync_all(engine: Engine) -> list[str]:
    """Every active desk user's Postgres role (``lettrage desk`` at start: users made before ``access init``)."""
    if not access_ready(engine) or not engine.table_exists("desk_user"):
        return []
    out = []
    for r in engine.query_dicts("SELECT username, role, entities FROM desk_user WHERE active"):
        name = sync_db_role(engine, r["username"], r["role"], str(r["entities"]).split(","))
        if name:
            out.append(name)
    return out


def _become(engine: Engine, principal: Principal) -> None:
    """``SET ROLE`` to the user's Postgres role (created on first use); fails closed if that is impossible."""
    from lettrage.errors import WarehouseError
    from warehouse.access.postgres import q

    name = db_role_name(_roles().prefix, principal.username)
    try:
        engine.execute(f"SET ROLE {q(name)}")
    except WarehouseError:  # a user made before `access init`, or by another desk process: create it now
        sync_db_role(engine, principal.username, principal.role, principal.entities)
        engine.execute(f"SET ROLE {q(name)}")
    setattr(engine, _ROLE_ATTR, name)


class _Pool:
    """Idle Postgres read connections of this process, reused across requests.

    Opening a connection (a backend fork, authentication, search path) cost more than most of the
    desk's queries; a page needs two (who is asking, then the page). Only read sessions come back
    here, in a clean state (role reset, no transaction open); write sessions (temporary tables of
    the reconciliation, transactions) are closed. Keyed by process id, so a forked worker never
    shares its parent's sockets.
    """

    def __init__(self, max_idle: int = 16) -> None:
        self._idle: dict[tuple[int, str, str], list[Engine]] = {}
        self._lock = threading.Lock()
        self._max = max_idle

    def get(self, config: WarehouseConfig) -> Engine:
        key = (os.getpid(), config.url, config.dataset)
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                return idle.pop()
        from warehouse.engine import open_engine

        return open_engine(config)

    def put(self, config: WarehouseConfig, engine: Engine) -> None:
        conn = getattr(engine, "_conn", None)
        healthy = conn is not None and not conn.closed and conn.autocommit and _ready(conn)
        key = (os.getpid(), config.url, config.dataset)
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if healthy and len(idle) < self._max:
                idle.append(engine)
                return
        engine.close()


def _ready(conn: object) -> bool:
    import psycopg2.extensions

    return bool(conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE)  # type: ignore[attr-defined]


_POOL = _Pool()
# access roles seen, per (url, dataset, prefix): when (negative: when last found missing)
_READY: dict[tuple[str, str, str], float] = {}
_READY_RECHECK_S = 30.0


def _access_ready_cached(config: WarehouseConfig, engine: Engine) -> bool:
    """:func:`access_ready`, remembered once true (per process); re-asked every 30 s while false."""
    key = (config.url, config.dataset, _roles().prefix)
    seen = _READY.get(key)
    now = time.monotonic()
    if seen is not None and (seen > 0 or now + seen < _READY_RECHECK_S):
        return seen > 0
    ready = access_ready(engine)
    _READY[key] = now if ready else -now
    return ready


@contextmanager
def session(config: WarehouseConfig, *, write: bool = False, principal: Principal | None = None,
            enforce: bool = True) -> Iterator[Engine]:
    """Open the warehouse for one request (read-only unless ``write``) and close it after.

    With ``principal`` on a Postgres warehouse whose access roles exist (and ``enforce``), the connection
    acts as that user's Postgres role until it closes: row-level security filters every read.
    """
    if config.engine == "duckdb":
        with _DUCKDB_LOCK, connect(config, read_only=not write) as engine:
            yield engine
        return
    from warehouse.engine import open_engine

    engine = open_engine(config) if write else _POOL.get(config)
    ok = False
    try:
        if principal is not None and enforce and _access_ready_cached(config, engine):
            _become(engine, principal)
        yield engine
        ok = True
    finally:
        try:
            if getattr(engine, _ROLE_ATTR, None):
                engine.execute("RESET ROLE")
                setattr(engine, _ROLE_ATTR, None)
        except WarehouseError:  # a broken connection is closed below, never pooled
            ok = False
        if ok and not write:
            _POOL.put(config, engine)
        else:
            engine.close()


def acting_role(engine: Engine) -> str | None:
    """The Postgres role a desk session acts as (None: the desk's own login, or DuckDB)."""
    return getattr(engine, _ROLE_ATTR, None)


@contextmanager
def service(engine: Engine) -> Iterator[Engine]:
    """Step back to the desk's own login inside a user session, for the desk's own tables and writes.

    Only around code that reads the desk's application tables or writes what the page checked (see the
    module docstring); the user's role is taken again on exit.
    """
    name = acting_role(engine)
    if not name:
        yield engine
        return
    from warehouse.access.postgres import q

    engine.execute("RESET ROLE")
    try:
        yield engine
    finally:
        engine.execute(f"SET ROLE {q(name)}")
