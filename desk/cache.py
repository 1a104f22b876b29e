"""A small cache for figures that cost a scan of a large fact table (e.g. the auto-match rate).

Entries are keyed by the entity's data version (:func:`desk.queries.version`:
last reconciliation and last mart refresh), so a decision made on the desk, or
the nightly run, changes the key and the next page computes afresh; nothing is
ever served stale by time. Bounded, per process, thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MAX_ENTRIES = 256


class FigureCache:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._data: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries

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
