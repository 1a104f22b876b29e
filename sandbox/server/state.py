"""What the sandbox server knows: the world on disk, credentials, clock, objects created over HTTP."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.server.faults import Faults
from sandbox.server.store import EntityStore, load_keys, world_now


@dataclass
class Created:
    """Objects created through POST (payment links, checkout sessions, payments), by idempotency key."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    idempotency: dict[tuple[str, str, str], tuple[str, str]] = field(
        default_factory=dict
    )  # -> (params hash, id)
    counter: int = 0


class SandboxState:
    def __init__(self, root: Path, *, now: float | None = None, faults: Faults | None = None) -> None:
        self.root = Path(root)
        self.faults = faults or Faults()
        self._fixed_now = now if now is not None else world_now(self.root)
        self.workdir = Path(tempfile.mkdtemp(prefix="lettrage-sandbox-"))
        keys = load_keys(self.root)
        self.stripe_keys = {k.stripe_api_key: k.entity for k in keys}
        self.gocardless_tokens = {k.gocardless_access_token: k.entity for k in keys}
        self._stores: dict[str, EntityStore] = {}
        self._lock = threading.Lock()
        self.created: dict[str, Created] = {}
        self.base_url = ""

    def now(self) -> float:
        """The world's as-of instant when it has one (so 'six months ago' means the same on every run)."""
        return self._fixed_now if self._fixed_now is not None else time.time()

    def store(self, entity: str) -> EntityStore:
        with self._lock:
            found = self._stores.get(entity)
            if found is None:
                found = self._stores[entity] = EntityStore(self.root, entity, self.workdir)
            return found

    def created_for(self, entity: str) -> Created:
        with self._lock:
            return self.created.setdefault(entity, Created())

    def close(self) -> None:
        for store in self._stores.values():
            store.close()
        shutil.rmtree(self.workdir, ignore_errors=True)
