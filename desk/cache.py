"""A small cache for figures that cost a scan of a large fact table (e.g. the auto-match rate).

Entries are keyed by the entity's data version (:func:`desk.queries.version`:
last reconciliation and last mart refresh), so a decision made on the desk, or
the nightly run, changes the key and the next page computes afresh; nothing is
ever served stale by time. Bounded, per process, thread-safe.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_ENTRIES = 256
log = logging.getLogger("lettrage.desk")


class FigureCache:
    """Computed figures by key, most recently used kept (bounded)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._running: dict[Hashable, threading.Thread] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = compute()
        with self._lock:
            self._data[key] = value
            while len(self._data) > self._max:
                self._data.popitem(last=False)
        return value

    def soon(self, key: Hashable, compute: Callable[[], Any], wait_s: float) -> Any | None:
        """The value if it is (or becomes within ``wait_s``) ready, else None while a thread computes it.

        For figures too slow for a click (the forecast back-test renders the forecast mart once per past
        month end: tens of seconds at a million invoices): the page shows them once ready instead of
        holding every request; one computation per key at a time, its failure logged and retried on the
        next request.
        """
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            running = self._running.get(key)
            if running is None:
                running = threading.Thread(target=self._fill, args=(key, compute), daemon=True,
                                           name=f"desk-figure-{key!r}"[:60])
                self._running[key] = running
                running.start()
        running.join(wait_s)
        with self._lock:
            return self._data.get(key)

    def _fill(self, key: Hashable, compute: Callable[[], Any]) -> None:
        try:
            value = compute()
        except Exception:
            log.exception("desk: computing %r failed; retried on the next request", key)
            with self._lock:
                self._running.pop(key, None)
            return
        with self._lock:
            self._data[key] = value
            self._running.pop(key, None)
            while len(self._data) > self._max:
                self._data.popitem(last=False)
