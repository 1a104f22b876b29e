"""Named locks for work two people (or a person and the nightly sync) may start at the same moment.

A lock per name in this process (the desk's threads; DuckDB allows one writing process anyway), and on Postgres
an advisory lock keyed by the same name, so several desk workers and the flows take turns too (:func:`named_lock`).
The callers say what they guard: decisions on one payment (:func:`warehouse.reconcile.decisions.payment_decisions`), one
reconciliation of an entity (:func:`warehouse.reconcile.run.reconcile`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from warehouse.engine import Engine

_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_GUARD = threading.Lock()


def local_lock(name: str) -> threading.Lock:
    """This process's lock for ``name`` (the same object for every caller)."""
    with _GUARD:
        return _LOCKS[name]


def advisory_key(name: str) -> int:
    """The Postgres advisory-lock key of ``name``: a stable 60-bit number (a bigint)."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:15], 16)


@contextmanager
def named_lock(engine: Engine, name: str, *, transaction: bool = False) -> Iterator[None]:
    """Hold ``name`` in this process and, on Postgres, across processes. With ``transaction`` a transaction is
    opened too and the Postgres lock is the transaction's (released at its end, whatever happens); without, it is
    the session's, released on the way out."""
    with local_lock(name):
        if transaction:
            with engine.transaction():
                if engine.name == "postgres":
                    engine.query("SELECT pg_advisory_xact_lock(:k)", {"k": advisory_key(name)})
                yield
        elif engine.name != "postgres":
            yield
        else:
            engine.query("SELECT pg_advisory_lock(:k)", {"k": advisory_key(name)})
            try:
                yield
            finally:
                engine.query("SELECT pg_advisory_unlock(:k)", {"k": advisory_key(name)})
