"""One warehouse connection per request, briefly — the engine seam, never around it.

DuckDB allows one writer process and, inside a process, refuses a read-only and
a read-write connection to the same file at once; the desk therefore serialises
its DuckDB connections with a process lock (a demo runs one desk process).
Postgres connections run concurrently.

Seam for the database's own enforcement: on Postgres, once the access roles of
``warehouse.access`` are applied, :func:`session` is where a per-user
``SET ROLE`` would go so row-level security, not only the page, enforces scope.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from lettrage.config import WarehouseConfig
from warehouse.engine import Engine, connect

_DUCKDB_LOCK = threading.RLock()


@contextmanager
def session(config: WarehouseConfig, *, write: bool = False) -> Iterator[Engine]:
    """Open the warehouse for one request (read-only unless ``write``) and close it after."""
    if config.engine == "duckdb":
        with _DUCKDB_LOCK, connect(config, read_only=not write) as engine:
            yield engine
        return
    with connect(config) as engine:
        yield engine
