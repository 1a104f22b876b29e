"""Live progress of a sync, per source: pages, rows, rows/s, elapsed.

Loads report into one process-wide :data:`BOARD` (thread-safe); whoever watches
attaches a listener: the CLI a rich live display on a terminal or plain log
lines otherwise; a deployment nobody watches pays almost nothing.

    load task ──DltProgress(dlt collector)──▶ BOARD ──▶ RichRenderer | PlainRenderer
                                                 └────▶ snapshot() → the CLI's summary table

dlt calls the collector once per extracted batch (a page of an API, a chunk of
a file): that count is what "pages" means here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TextIO

from dlt.common.runtime.collector_base import Collector

from lettrage.logging import mask_text

__all__ = ["BOARD", "DltProgress", "PlainRenderer", "ProgressBoard", "RichRenderer", "SourceProgress"]

log = logging.getLogger("lettrage.progress")

WAITING, RUNNING, DONE, FAILED = "waiting", "running", "done", "failed"


@dataclass
class SourceProgress:
    """Where one source's load stands."""

    key: str
    status: str = WAITING
    phase: str = ""
    pages: int = 0
    rows: int = 0
    done: int = 0            # units of the current phase done (e.g. load jobs)
    total: int | None = None  # units of the current phase, when known
    started: float | None = None
    finished: float | None = None
    message: str = ""

    def elapsed(self, now: float | None = None) -> float:
        if self.started is None:
            return 0.0
        return ((self.finished or now or time.monotonic()) - self.started)

    def rows_per_second(self, now: float | None = None) -> float:
        elapsed = self.elapsed(now)
        return self.rows / elapsed if elapsed > 0 else 0.0


Listener = Callable[[str, SourceProgress], None]


@dataclass
class ProgressBoard:
    """Every source of the current run; listeners hear ``plan``/``start``/``update``/``done``/``failed``."""

    sources: dict[str, SourceProgress] = field(default_factory=dict)
    _listeners: list[Listener] = field(default_factory=list)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def attach(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def detach(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def reset(self) -> None:
        with self._lock:
            self.sources.clear()

    def _emit(self, event: str, item: SourceProgress) -> None:
        for listener in list(self._listeners):
            try:
                listener(event, replace(item))
            except Exception:  # a broken display must never fail a load
                log.debug("progress listener failed", exc_info=True)

    def _get(self, key: str) -> SourceProgress:
        if key not in self.sources:
            self.sources[key] = SourceProgress(key)
        return self.sources[key]

    def plan(self, keys: list[str]) -> None:
        """The sources this run will load, so a display can show them (and a total) up front."""
        with self._lock:
            for key in keys:
                item = self._get(key)
                if item.status != RUNNING:
                    self.sources[key] = SourceProgress(key)
                    self._emit("plan", self.sources[key])

    def start(self, key: str) -> None:
        with self._lock:
            item = self._get(key)
            item.status, item.started, item.finished, item.message = RUNNING, time.monotonic(), None, ""
            item.pages = item.rows = item.done = 0
            item.total = None
            self._emit("start", item)

    def update(self, key: str, *, pages: int = 0, rows: int = 0, phase: str | None = None,
               done: int | None = None, total: int | None = None) -> None:
        with self._lock:
            item = self._get(key)
            item.pages += pages
            item.rows += rows
            if phase is not None and phase != item.phase:
                item.phase, item.done, item.total = phase, 0, None
            if done is not None:
                item.done = done
            if total is not None:
                item.total = total
            self._emit("update", item)

    def finish(self, key: str, rows: int | None = None, message: str | None = None) -> None:
        with self._lock:
            item = self._get(key)
            item.status, item.finished, item.phase = DONE, time.monotonic(), ""
            if rows is not None:
                item.rows = rows
            if message:
                item.message = mask_text(message)
            self._emit("done", item)

    def fail(self, key: str, message: str) -> None:
        with self._lock:
            item = self._get(key)
            item.status, item.finished, item.message = FAILED, time.monotonic(), mask_text(message)
            self._emit("failed", item)

    def snapshot(self) -> list[SourceProgress]:
        with self._lock:
            return [replace(s) for s in self.sources.values()]


BOARD = ProgressBoard()


class DltProgress(Collector):
    """A dlt collector that reports one source's extract/normalize/load progress to a board."""

    def __init__(self, key: str, board: ProgressBoard | None = None) -> None:
        self.key, self.board, self.step = key, board or BOARD, ""
        self._phase = ""
        self._counters: dict[str, int] = {}
        self._totals: dict[str, int] = {}

    def __deepcopy__(self, memo: dict[int, Any]) -> DltProgress:  # dlt deep-copies collectors of cloned pipelines
        return self

    def update(self, name: str, inc: int = 1, total: int | None = None, inc_total: int | None = None,
               message: str | None = None, label: str | None = None) -> None:
        if label:
            return
        if self._phase == "extract":
            if name == "Resources" or name.startswith("_dlt"):
                return
            self.board.update(self.key, pages=1, rows=inc, phase="extract")
            return
        # normalize: "Files"/"Items"; load: "Jobs" — the ones with a known total drive a bar
        self._counters[name] = self._counters.get(name, 0) + inc
        if total is not None:
            self._totals[name] = total
        if inc_total:
            self._totals[name] = self._totals.get(name, 0) + inc_total
        if name in self._totals:
            self.board.update(self.key, phase=self._phase, done=self._counters[name], total=self._totals[name])

    def _start(self, step: str) -> None:
        self._phase = step.split()[0].lower() if step else ""
        self._counters, self._totals = {}, {}
        self.board.update(self.key, phase=self._phase)

    def _stop(self) -> None:
        self._phase = ""


class PlainRenderer:
    """Log lines for pipes, CI and ``--quiet``: one line per start and end, and a heartbeat per source."""

    def __init__(self, stream: TextIO, *, heartbeat_seconds: float = 10.0, quiet: bool = False) -> None:
        self.stream, self.heartbeat, self.quiet = stream, heartbeat_seconds, quiet
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def _line(self, text: str) -> None:
        with self._lock:
            self.stream.write(f"{time.strftime('%H:%M:%S')} {text}\n")
            self.stream.flush()

    def __call__(self, event: str, item: SourceProgress) -> None:
        if event == "start":
            self._last[item.key] = time.monotonic()
            self._line(f"{item.key}: started")
        elif event == "done":
            self._line(f"{item.key}: done, {item.rows:,} rows in {item.pages:,} pages, "
                       f"{item.elapsed():.1f}s ({item.rows_per_second():,.0f} rows/s)")
        elif event == "failed":
            self._line(f"{item.key}: FAILED after {item.elapsed():.1f}s: {item.message}")
        elif event == "update" and not self.quiet:
            now = time.monotonic()
            if now - self._last.get(item.key, now) >= self.heartbeat:
                self._last[item.key] = now
                self._line(f"{item.key}: {item.phase} {item.rows:,} rows, {item.pages:,} pages, "
                           f"{item.elapsed(now):.0f}s")


class RichRenderer:
    """A live display on a terminal: one line per source, and an overall bar over the sources."""

    def __init__(self, console: Any) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(bar_width=12),
            TextColumn("{task.fields[phase]:<9}"),
            TextColumn("{task.fields[pages]:>5}p"),
            TextColumn("{task.fields[rows]:>9} rows"),
            TextColumn("{task.fields[rate]:>7}/s"),
            TimeElapsedColumn(),
            console=console, transient=False, refresh_per_second=8,
        )
        self._tasks: dict[str, Any] = {}
        self._overall = self.progress.add_task("sources", total=0, phase="", pages="", rows="", rate="")
        self._finished = 0

    def __enter__(self) -> RichRenderer:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _task(self, item: SourceProgress) -> Any:
        if item.key not in self._tasks:
            self._tasks[item.key] = self.progress.add_task(item.key, total=None, start=False, phase="waiting",
                                                           pages="0", rows="0", rate="")
            self.progress.update(self._overall, total=len(self._tasks))
        return self._tasks[item.key]

    def __call__(self, event: str, item: SourceProgress) -> None:
        task = self._task(item)
        fields: dict[str, Any] = {"pages": f"{item.pages:,}", "rows": f"{item.rows:,}",
                  "rate": f"{item.rows_per_second():,.0f}" if item.started else ""}
        if event == "start":
            self.progress.start_task(task)
            self.progress.update(task, phase="extract", **fields)
        elif event == "update":
            total_known = item.total is not None and item.total > 0
            self.progress.update(task, phase=item.phase, total=item.total if total_known else None,
                                 completed=item.done if total_known else 0, **fields)
        elif event in ("done", "failed"):
            self.progress.update(task, phase="done" if event == "done" else "[red]FAILED[/]", total=1, completed=1,
                                 **fields)
            self.progress.stop_task(task)
            self._finished += 1
            self.progress.update(self._overall, completed=self._finished)
