"""Named locks for work two people (or a person and the nightly sync) may start at the same moment.

A lock per name in this process (the desk's threads; DuckDB allows one writing process anyway), and on Postgres
an advisory lock keyed by the same name, so several desk workers and the flows take turns too. The callers say
what they guard: decisions on one payment (:func:`warehouse.reconcile.decisions.payment_decisions`), one
reconciliation of an entity (:func:`warehouse.reconcile.run.reconcile`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import defaultdict

_LOCKS: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
_GUARD = threading.Lock()


def local_lock(name: str) -> threading.Lock:
    """This process's lock for ``name`` (the same object for every caller)."""
    with _GUARD:
        return _LOCKS[name]


def advisory_key(name: str) -> int:
    """The Postgres advisory-lock key of ``name``: a stable 60-bit number (a bigint)."""
    return int(hashlib.sha1(name.encode()).hexdigest()[:15], 16)
