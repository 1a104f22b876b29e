"""The engine seam: one small adapter per SQL engine.

Every statement Lettrage runs on the warehouse goes through an :class:`Engine`.
SQL is written once with ``:name`` parameters and unqualified table names;
the adapter sets the dataset as search path and translates parameters.
Adding an engine means one adapter here, not edits across the code.

DuckDB allows one writing process per file and blocks readers meanwhile, so
connections are opened for a step and closed after it (:func:`connect`), and
opening retries briefly when the file is locked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from lettrage.config import WarehouseConfig, load_warehouse_config
from lettrage.errors import WarehouseError

_PARAM_RE = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

TYPES: dict[str, dict[str, str]] = {
    "duckdb": {
        "text": "VARCHAR", "money": "DECIMAL(18,2)", "date": "DATE",
        "timestamptz": "TIMESTAMP WITH TIME ZONE", "bool": "BOOLEAN", "bigint": "BIGINT",
        "ratio": "DECIMAL(9,4)", "days": "DECIMAL(9,2)",
    },
    "postgres": {
        "text": "TEXT", "money": "NUMERIC(18,2)", "date": "DATE",
        "timestamptz": "TIMESTAMP WITH TIME ZONE", "bool": "BOOLEAN", "bigint": "BIGINT",
        "ratio": "NUMERIC(9,4)", "days": "NUMERIC(9,2)",
    },
}


class Engine(Protocol):
    name: str
    dataset: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...
    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None: ...
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]: ...
    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...
    def table_exists(self, table: str) -> bool: ...
    def columns(self, table: str) -> dict[str, str]: ...
    def type_of(self, logical: str) -> str: ...
    def transaction(self) -> Any: ...
    def analyze(self, *tables: str) -> None: ...
    def close(self) -> None: ...


class _Base:
    name: str
    dataset: str
    _conn: Any

    def type_of(self, logical: str) -> str:
        return TYPES[self.name][logical]

    def _translate(self, sql: str, params: Mapping[str, Any] | None) -> str:
        raise NotImplementedError

    def _cursor(self) -> Any:
        raise NotImplementedError

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        cur = self._cursor()
        try:
            cur.execute(self._translate(sql, params), dict(params) if params else None)
        except Exception as exc:
            raise WarehouseError(f"{self.name}: {exc}\n-- statement:\n{sql[:2000]}") from exc

    def executemany(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        cur = self._cursor()
        try:
            cur.executemany(self._translate(sql, rows[0]), [dict(r) for r in rows])
        except Exception as exc:
            raise WarehouseError(f"{self.name}: {exc}\n-- statement:\n{sql[:2000]}") from exc

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self._cursor()
        try:
            cur.execute(self._translate(sql, params), dict(params) if params else None)
            return [tuple(r) for r in cur.fetchall()]
        except Exception as exc:
            raise WarehouseError(f"{self.name}: {exc}\n-- statement:\n{sql[:2000]}") from exc

    def query_dicts(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self._cursor()
        try:
            cur.execute(self._translate(sql, params), dict(params) if params else None)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        except Exception as exc:
            raise WarehouseError(f"{self.name}: {exc}\n-- statement:\n{sql[:2000]}") from exc

    def table_exists(self, table: str) -> bool:
        return bool(self.columns(table))

    def analyze(self, *tables: str) -> None:
        """Refresh the planner's statistics of tables just rewritten (nothing to do on this engine)."""

    def columns(self, table: str) -> dict[str, str]:
        rows = self.query(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = :schema AND table_name = :table ORDER BY ordinal_position",
            {"schema": self.dataset, "table": table},
        )
        return {str(c): str(t) for c, t in rows}


class DuckDBEngine(_Base):
    name = "duckdb"

    def __init__(self, path: str, dataset: str, *, read_only: bool = False, lock_timeout_s: float = 30.0) -> None:
        import duckdb

        self.dataset = dataset
        deadline = time.monotonic() + lock_timeout_s
        while True:
            try:
                self._conn = duckdb.connect(path, read_only=read_only)
                break
            except duckdb.ConnectionException as exc:
                # This process already holds the file read-write (e.g. the flow that just wrote it):
                # DuckDB refuses a second connection with another configuration, so share its mode.
                if not read_only or "different configuration" not in str(exc):
                    raise
                read_only = False
            except duckdb.IOException as exc:  # another process holds the write lock
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WarehouseError(
                        f"cannot open {path}: {exc}. Another Lettrage process is writing; "
                        "wait for it, or use Postgres for concurrent users"
                    ) from exc
                time.sleep(0.25)
        try:
            # Qualify with the catalog: a file named like the dataset (lettrage.duckdb holding schema
            # lettrage) makes an unqualified "lettrage" ambiguous between catalog and schema.
            catalog = str(self._conn.execute("SELECT current_database()").fetchone()[0])
            if not read_only:
                self._conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{catalog}"."{dataset}"')
            self._conn.execute(f"SET search_path = '\"{catalog}\".\"{dataset}\"'")
        except Exception:
            self._conn.close()
            raise
        self._conn.execute("SET TimeZone = 'UTC'")

    def _cursor(self) -> Any:
        return self._conn

    def _translate(self, sql: str, params: Mapping[str, Any] | None) -> str:
        return _PARAM_RE.sub(r"$\1", sql) if params else sql

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def arrow(self, sql: str) -> Any:
        return self._conn.execute(sql).fetch_arrow_table()

    def close(self) -> None:
        self._conn.close()


class PostgresEngine(_Base):
    name = "postgres"

    def __init__(self, dsn: str, dataset: str) -> None:
        import psycopg2

        self.dataset = dataset
        try:
            self._conn = psycopg2.connect(dsn)
        except psycopg2.OperationalError as exc:
            from lettrage.config import redact_url

            raise WarehouseError(f"cannot connect to Postgres at {redact_url(dsn)}: {exc}") from exc
        self._conn.autocommit = True
        with self._conn.cursor() as cur:
            # Look first: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when the
            # schema exists, which read-only roles (warehouse.access) rightly do not have.
            cur.execute("SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %s", (dataset,))
            if cur.fetchone() is None:
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{dataset}"')
            cur.execute(f'SET search_path TO "{dataset}"')
            cur.execute("SET TIME ZONE 'UTC'")

    def _cursor(self) -> Any:
        return self._conn.cursor()

    def _translate(self, sql: str, params: Mapping[str, Any] | None) -> str:
        if not params:
            return sql
        return _PARAM_RE.sub(r"%(\1)s", sql.replace("%", "%%"))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._conn.autocommit = False
        try:
            yield
        except BaseException:
            self._conn.rollback()
            self._conn.autocommit = True
            raise
        self._conn.commit()
        self._conn.autocommit = True

    def analyze(self, *tables: str) -> None:
        """ANALYZE tables a step just rewrote, before the next step reads them.

        Autovacuum analyses a table a minute or so after it changed; a flow reads it at once. Without
        statistics the planner takes a freshly filled table for a few rows and joins it by nested loops: at
        120,000 invoices one statement of a night ran 7 minutes instead of half a second (measured on an
        independent book). A table that does not exist is skipped.
        """
        for table in tables:
            if self.table_exists(table):
                self.execute(f'ANALYZE "{table}"')

    def close(self) -> None:
        self._conn.close()


class WarehouseMissing(WarehouseError):
    """A reader asked for a DuckDB warehouse file that does not exist (a command run from another folder)."""


def require_warehouse(config: WarehouseConfig | None = None) -> None:
    """Raise :class:`WarehouseMissing` when the configured DuckDB file is not there.

    Opening it would create an empty warehouse where the command was run, and a read-only command would
    then print empty figures and exit 0 (or fail on a missing table), saying nothing of the real cause.
    """
    config = config or load_warehouse_config()
    if config.engine == "duckdb" and not config.duckdb_path.exists():
        raise WarehouseMissing(
            f"no warehouse at {config.duckdb_path.resolve()}: run `lettrage sync` (or scripts/demo) first, run this command "
            "from the folder that holds warehouse.duckdb, or point LETTRAGE__WAREHOUSE_URL at it")


def open_engine(config: WarehouseConfig | None = None, *, read_only: bool = False) -> Engine:
    config = config or load_warehouse_config()
    if config.engine == "duckdb":
        path = config.duckdb_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return DuckDBEngine(str(path), config.dataset, read_only=read_only and path.exists())
    return PostgresEngine(config.postgres_url(), config.dataset)


@contextmanager
def connect(config: WarehouseConfig | None = None, *, read_only: bool = False) -> Iterator[Engine]:
    """Open the warehouse for one step and close it after, so DuckDB's lock is held briefly."""
    engine = open_engine(config, read_only=read_only)
    try:
        yield engine
    finally:
        engine.close()
