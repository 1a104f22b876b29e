"""In-memory indexes over the world's JSONL files, built lazily per entity.

Why not keep the objects as dicts: a million balance transactions as Python
dicts cost gigabytes. Each collection instead keeps only what paging needs —
the creation instant, the id and the byte span of the object — in compact
arrays, sorted ascending by ``(created, id)``. The objects themselves live in a
sidecar file (the JSONL line re-serialised without the sandbox-only ``_`` keys)
that is memory-mapped, so serving a page is a bisect plus byte slicing: O(page),
no JSON parsing on the hot path.
"""

from __future__ import annotations

import json
import mmap
import os
import tempfile
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

STRIPE_TYPES = ("charges", "payouts", "balance_transactions", "refunds", "disputes", "customers", "events", "invoices",
                "payment_intents", "invoice_payments")
GOCARDLESS_TYPES = (
    "customers",
    "customer_bank_accounts",
    "mandates",
    "payments",
    "payouts",
    "payout_items",
    "events",
)


def iso_to_micros(value: str) -> int:
    """GoCardless ``created_at`` (``2025-01-31T10:00:00.000Z``) to integer microseconds since the epoch."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 1_000_000 + dt.microsecond


def strip_private(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop the sandbox-only keys (``_payout`` …) that the real API never sends."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}


def _served_bytes(line: bytes, obj: dict[str, Any]) -> bytes:
    """The line as served: as written when it has no sandbox-only key, else re-serialised without them."""
    if b'"_' not in line:
        return line.rstrip(b"\r\n")
    return json.dumps(strip_private(obj), separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Page:
    """Positions of one page, newest first, and whether more objects lie beyond it on each side."""

    positions: list[int]
    older: bool  # more objects older than the page's last one
    newer: bool  # more objects newer than the page's first one


class Collection:
    """One object type of one entity: sorted by ``(created, id)``, served newest first."""

    def __init__(
        self,
        source: Path | None,
        *,
        created_of: Callable[[dict[str, Any]], int],
        index_keys: Sequence[tuple[str, Callable[[dict[str, Any]], str | None]]] = (),
        workdir: Path,
    ) -> None:
        self.created = array("q")
        self.ids: list[str] = []
        self.offsets = array("q")
        self.lengths = array("l")
        self.position: dict[str, int] = {}
        self.indexes: dict[str, dict[str, array[int]]] = {name: {} for name, _ in index_keys}
        self._mm: mmap.mmap | None = None
        self._file = None
        if source is None or not source.exists():
            return
        rows: list[tuple[int, str, int, int, tuple[str | None, ...]]] = []
        fd, sidecar = tempfile.mkstemp(prefix=source.stem + "_", suffix=".jsonl", dir=workdir)
        offset = 0
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            for line in src:
                if not line.strip():
                    continue
                obj = json.loads(line)
                data = _served_bytes(line, obj)
                keys = tuple(fn(obj) for _, fn in index_keys)
                rows.append((created_of(obj), obj["id"], offset, len(data), keys))
                out.write(data)
                out.write(b"\n")
                offset += len(data) + 1
        rows.sort(key=lambda r: (r[0], r[1]))
        for pos, (created, oid, off, length, keys) in enumerate(rows):
            self.created.append(created)
            self.ids.append(oid)
            self.offsets.append(off)
            self.lengths.append(length)
            self.position[oid] = pos
            for (name, _), key in zip(index_keys, keys, strict=True):
                if key is not None:
                    self.indexes[name].setdefault(key, array("q")).append(pos)
        del rows
        if offset:
            self._file = open(sidecar, "rb")  # noqa: SIM115 - kept open for the mmap's lifetime
            self._mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)

    def __len__(self) -> int:
        return len(self.ids)

    def raw(self, pos: int) -> bytes:
        assert self._mm is not None
        off = self.offsets[pos]
        return self._mm[off : off + self.lengths[pos]]

    def get(self, oid: str) -> bytes | None:
        pos = self.position.get(oid)
        return None if pos is None else self.raw(pos)

    def created_range(self, gte: int | None, lt: int | None) -> tuple[int, int]:
        """Positions ``[lo, hi)`` whose created lies in ``[gte, lt)``."""
        lo = 0 if gte is None else bisect_left(self.created, gte)
        hi = len(self.created) if lt is None else bisect_left(self.created, lt)
        return lo, max(lo, hi)

    def page(
        self,
        *,
        lo: int,
        hi: int,
        subset: Sequence[int] | None,
        after: int | None,
        before: int | None,
        limit: int,
    ) -> Page:
        """Newest-first page inside ``[lo, hi)``, optionally restricted to ``subset`` (sorted positions).

        ``after`` is the position of the cursor object for ``starting_after``/``after``
        (older objects), ``before`` the one for ``ending_before``/``before`` (newer ones).
        """
        if subset is None:
            rank_lo, rank_hi = lo, hi

            def at(rank: int) -> int:
                return rank
        else:
            rank_lo, rank_hi = bisect_left(subset, lo), bisect_left(subset, hi)

            def at(rank: int) -> int:
                return subset[rank]

        def rank_of(pos: int, right: bool) -> int:
            if subset is None:
                return pos + 1 if right else pos
            return bisect_right(subset, pos) if right else bisect_left(subset, pos)

        if after is not None:
            top = min(rank_hi, rank_of(after, right=False))
            bottom = max(rank_lo, top - limit)
            return Page([at(r) for r in range(top - 1, bottom - 1, -1)], bottom > rank_lo, top < rank_hi)
        if before is not None:
            bottom = max(rank_lo, rank_of(before, right=True))
            top = min(rank_hi, bottom + limit)
            return Page([at(r) for r in range(top - 1, bottom - 1, -1)], bottom > rank_lo, top < rank_hi)
        bottom = max(rank_lo, rank_hi - limit)
        return Page([at(r) for r in range(rank_hi - 1, bottom - 1, -1)], bottom > rank_lo, False)

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        if self._file is not None:
            self._file.close()
            self._file = None


class GroupedCollection:
    """Objects without their own id or creation time, grouped by a parent (GoCardless payout items).

    Kept in file order within each group, which is the order the API lists them in.
    """

    def __init__(
        self, source: Path | None, *, group_of: Callable[[dict[str, Any]], str | None], workdir: Path
    ) -> None:
        self.groups: dict[str, tuple[array[int], array[int]]] = {}
        self._mm: mmap.mmap | None = None
        self._file = None
        if source is None or not source.exists():
            return
        fd, sidecar = tempfile.mkstemp(prefix=source.stem + "_", suffix=".jsonl", dir=workdir)
        offset = 0
        with os.fdopen(fd, "wb") as out, source.open("rb") as src:
            for line in src:
                if not line.strip():
                    continue
                obj = json.loads(line)
                group = group_of(obj)
                data = _served_bytes(line, obj)
                out.write(data + b"\n")
                if group is not None:
                    offs, lens = self.groups.setdefault(group, (array("q"), array("l")))
                    offs.append(offset)
                    lens.append(len(data))
                offset += len(data) + 1
        if offset:
            self._file = open(sidecar, "rb")  # noqa: SIM115
            self._mm = mmap.mmap(self._file.fileno(), 0, access=mmap.ACCESS_READ)

    def items(self, group: str, start: int, limit: int) -> tuple[list[bytes], int]:
        """Up to ``limit`` raw objects of ``group`` from index ``start``, and the group's size."""
        offs, lens = self.groups.get(group, (array("q"), array("l")))
        end = min(len(offs), start + limit)
        assert self._mm is not None or end <= start
        return [self._mm[offs[i] : offs[i] + lens[i]] for i in range(start, end)] if self._mm else [], len(
            offs
        )

    def close(self) -> None:
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        if self._file is not None:
            self._file.close()
            self._file = None


def _stripe_created(obj: dict[str, Any]) -> int:
    return int(obj["created"])


def _gc_created(obj: dict[str, Any]) -> int:
    return iso_to_micros(obj["created_at"])


def _key(name: str) -> Callable[[dict[str, Any]], str | None]:
    def get(obj: dict[str, Any]) -> str | None:
        value = obj.get(name)
        return None if value is None else str(value)

    return get


STRIPE_INDEXES: dict[str, list[tuple[str, Callable[[dict[str, Any]], str | None]]]] = {
    "balance_transactions": [("payout", _key("_payout")), ("type", _key("type"))],
    "events": [("type", _key("type"))],
    "charges": [("customer", _key("customer"))],
    "payouts": [("status", _key("status"))],
}
GC_INDEXES: dict[str, list[tuple[str, Callable[[dict[str, Any]], str | None]]]] = {
    name: [("status", _key("status"))] for name in GOCARDLESS_TYPES if name != "payout_items"
}


class EntityStore:
    """All collections of one entity, each built on first use."""

    def __init__(self, root: Path, entity: str, workdir: Path) -> None:
        self.root, self.entity, self.workdir = root, entity, workdir
        self._collections: dict[tuple[str, str], Collection | GroupedCollection] = {}
        self._lock = threading.Lock()

    def stripe(self, kind: str) -> Collection:
        return self._get("stripe", kind)  # type: ignore[return-value]

    def gocardless(self, kind: str) -> Collection:
        return self._get("gocardless", kind)  # type: ignore[return-value]

    def payout_items(self) -> GroupedCollection:
        return self._get("gocardless", "payout_items")  # type: ignore[return-value]

    def _get(self, provider: str, kind: str) -> Collection | GroupedCollection:
        key = (provider, kind)
        found = self._collections.get(key)
        if found is not None:
            return found
        with self._lock:  # one build per collection even under concurrent first requests
            found = self._collections.get(key)
            if found is None:
                path = self.root / self.entity / provider / f"{kind}.jsonl"
                if provider == "gocardless" and kind == "payout_items":
                    found = GroupedCollection(path, group_of=_key("_payout"), workdir=self.workdir)
                elif provider == "stripe":
                    found = Collection(
                        path,
                        created_of=_stripe_created,
                        index_keys=STRIPE_INDEXES.get(kind, ()),
                        workdir=self.workdir,
                    )
                else:
                    found = Collection(
                        path,
                        created_of=_gc_created,
                        index_keys=GC_INDEXES.get(kind, ()),
                        workdir=self.workdir,
                    )
                self._collections[key] = found
        return found

    def close(self) -> None:
        for c in self._collections.values():
            c.close()


@dataclass(frozen=True, slots=True)
class EntityKeys:
    entity: str
    stripe_api_key: str
    gocardless_access_token: str


def load_keys(root: Path) -> list[EntityKeys]:
    """Credentials per entity from ``world.json``; entity folders without one get the default sandbox keys."""
    found: dict[str, EntityKeys] = {}
    world = root / "world.json"
    if world.exists():
        meta = json.loads(world.read_text(encoding="utf-8"))
        entities: Iterable[Any] = meta.get("entities", [])
        if isinstance(entities, dict):
            entities = [dict(v, code=k) for k, v in entities.items()]
        for e in entities:
            code = e.get("code") or e.get("entity")
            stripe_meta, gc_meta = e.get("stripe") or {}, e.get("gocardless") or {}
            found[code] = EntityKeys(  # flat keys (tiny world) or nested objects (sandbox.world)
                code,
                e.get("stripe_api_key") or stripe_meta.get("api_key") or f"sk_test_sandbox_{code}",
                e.get("gocardless_access_token") or gc_meta.get("access_token") or f"sandbox_{code}_token",
            )
    if root.exists():
        for child in sorted(root.iterdir()):
            if (
                child.is_dir()
                and child.name not in found
                and ((child / "stripe").is_dir() or (child / "gocardless").is_dir())
            ):
                found[child.name] = EntityKeys(
                    child.name, f"sk_test_sandbox_{child.name}", f"sandbox_{child.name}_token"
                )
    return list(found.values())


def world_now(root: Path) -> float | None:
    """The world's ``as_of`` (end of that day, UTC) as the server's notion of now, if the world says."""
    world = root / "world.json"
    if not world.exists():
        return None
    as_of = json.loads(world.read_text(encoding="utf-8")).get("as_of")
    if not as_of:
        return None
    return datetime.fromisoformat(f"{as_of}T23:59:59+00:00").timestamp()
