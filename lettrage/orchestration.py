"""What the flows decide, as plain functions: run names, windows, retries, limits, outcomes, artifact tables.

The flows in ``flows/`` stay runbooks that call these; everything here is
unit-tested without a Prefect server. Nothing here imports ``flows/``,
``connectors/`` or ``warehouse/``: callers hand in what they know (which
sources talk to networks, the warehouse's figures).

    run_name("nightly", ["FR01"], date(2026, 11, 22))  -> "nightly-FR01-2026-11-22"
    RunOutcome: loaded sources + failed sources  -> failure_message() names the failed ones
    is_retryable(exc): transient network trouble yes, bad key / bad file / bad config no
    ensure_concurrency_limits(): the per-source global concurrency limits on the Prefect server
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lettrage.errors import (
    ConfigurationError,
    DataError,
    PermanentSourceError,
    RetriesExhausted,
    TransientSourceError,
)
from lettrage.logging import mask_text

__all__ = [
    "BACKFILL_DEFAULT_DAYS", "DEFAULT_SOURCE_LIMITS", "LOCAL_TZ", "NETWORK_RETRIES", "NETWORK_RETRY_DELAYS",
    "WAREHOUSE_LIMIT", "RunOutcome", "backfill_window", "concurrency_limit_name", "ensure_concurrency_limits",
    "exceptions_table", "failure_message", "describe_error", "is_retryable", "limit_exists", "root_cause", "match_rate_table", "rows_loaded_table", "run_name",
    "source_key", "today",
]

# The books are kept in Paris time: "today" of a run at 00:30 is the Paris date, not UTC's.
LOCAL_TZ = ZoneInfo("Europe/Paris")
# Task retries on top of each connector's per-request retries: a minute-scale outage is
# survived without re-reading from scratch (dlt resumes from its committed state).
NETWORK_RETRIES = 2
NETWORK_RETRY_DELAYS: tuple[int, ...] = (30, 120)
NETWORK_RETRY_JITTER = 0.5
# How long one step may take before Prefect stops it (seconds).
FILE_LOAD_TIMEOUT = 3600
NETWORK_LOAD_TIMEOUT = 3 * 3600
WAREHOUSE_STEP_TIMEOUT = 1800
BACKFILL_DEFAULT_DAYS = 7
# Slots per provider account: NetSuite allows a handful of concurrent requests account-wide
# (one Lettrage load at a time keeps well inside it); the others tolerate a few.
DEFAULT_SOURCE_LIMITS: dict[str, int] = {
    "netsuite": 1,
    "sage_accounting": 2,
    "sap_b1": 2,
    "stripe": 4,
    "gocardless": 2,
}
# One writer at a time on the warehouse (DuckDB allows one writing process).
WAREHOUSE_LIMIT = "lettrage-warehouse"


def today(tz: ZoneInfo = LOCAL_TZ) -> date:
    """The calendar day of the books, computed when called (never as a default argument)."""
    return datetime.now(tz).date()


def run_name(kind: str, entities: Sequence[str] | None, day: date | str) -> str:
    """``nightly-FR01-2026-11-22``: says what ran and for which day; ``all`` when no entity was chosen."""
    who = "-".join(sorted(str(e) for e in entities)) if entities else "all"
    return f"{kind}-{who}-{day}"


def source_key(source: str, entity: str) -> str:
    return f"{source}/{entity}"


def backfill_window(start: date | None, end: date | None, *, today_: date,
                    days: int = BACKFILL_DEFAULT_DAYS) -> tuple[date, date]:
    """The window a backfill re-pulls: ``end`` defaults to today, ``start`` to ``days`` before ``end``."""
    end = end or today_
    start = start or end - timedelta(days=days)
    if end < start:
        raise ConfigurationError(f"backfill window ends ({end}) before it starts ({start}); swap --from and --to")
    return start, end


def concurrency_limit_name(source: str) -> str:
    """The Prefect global concurrency limit a network source's load holds a slot of."""
    return f"{source}-api"


_TRANSIENT_BUILTINS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError, socket.timeout)


def is_retryable(exc: BaseException | None) -> bool:
    """Worth a task retry: network trouble, 429/5xx, an exhausted per-request budget.

    Never: a refused key, a missing file or setting, bad data — retrying those only
    delays the failure (and hammers the provider with a wrong key).
    """
    if exc is None:
        return False
    if isinstance(exc, PermanentSourceError | ConfigurationError | DataError):
        return False
    if isinstance(exc, (TransientSourceError, RetriesExhausted, *_TRANSIENT_BUILTINS)):
        return True
    try:
        import httpx

        if isinstance(exc, httpx.TransportError):
            return True
    except ImportError:  # pragma: no cover - httpx is a dependency
        pass
    cause = _next_in_chain(exc)
    return is_retryable(cause) if cause is not None and cause is not exc else False


# Exceptions that end iteration rather than report trouble: never the cause of an error raised after them.
_CONTROL_FLOW: tuple[type[BaseException], ...] = (StopIteration, StopAsyncIteration, GeneratorExit)


def _next_in_chain(exc: BaseException) -> BaseException | None:
    """What ``exc`` came from: its explicit cause, else the exception being handled when it was raised.

    The second is only a context, and an iterator running dry is not a cause: dlt's pipe iterator asks for
    the next item while handling one resource's ``StopIteration``, so a parse error raised by another
    resource carries that ``StopIteration`` as its context. Followed, it named the failure ``StopIteration``.
    """
    if exc.__cause__ is not None:
        return exc.__cause__
    context = exc.__context__
    if context is None or exc.__suppress_context__ or isinstance(context, _CONTROL_FLOW):
        return None
    return context


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = _next_in_chain(current)
    return seen


def root_cause(exc: BaseException) -> BaseException:
    """The error worth showing: the first Lettrage error in the chain (dlt wraps them), else the innermost."""
    from lettrage.errors import LettrageError

    chain = _chain(exc)
    return next((e for e in chain if isinstance(e, LettrageError)), chain[-1])


def _resource(exc: BaseException) -> str | None:
    """The dlt resource whose extraction failed, when the chain says (``ResourceExtractionError.pipe_name``)."""
    names = (getattr(e, "pipe_name", None) for e in _chain(exc))
    return next((str(name) for name in names if name), None)


def failed_task_reason(state: Any) -> str:
    """:func:`describe_error` of a task run's final state that did not complete (a task called with
    ``return_state=True``: one source, one entity, failing among others). Ctrl-C or a shutdown inside the task is
    raised again: it stops the run, it is not one failure among others."""
    exc = state.result(raise_on_failure=False)
    if isinstance(exc, KeyboardInterrupt | SystemExit):
        raise exc
    return describe_error(exc if isinstance(exc, BaseException) else None, str(state.message))


def describe_error(exc: BaseException | None, fallback: str = "failed") -> str:
    """One masked line for ops: the root cause's class and message, and the dlt resource it stopped (when one
    did), never a secret or a full IBAN: ``ValueError: month must be in 1..12 (resource transactions)``."""
    if exc is None:
        return fallback
    resource = _resource(exc)
    exc = root_cause(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if resource and f"resource {resource}" not in line:
        line += f" (resource {resource})"
    return mask_text(line)


def failure_message(failed: Mapping[str, str]) -> str:
    """``1 of 5 source(s) failed: stripe/FR01 (AuthenticationExpired: …)`` — what the run's state says."""
    parts = "; ".join(f"{key} ({reason})" for key, reason in sorted(failed.items()))
    return mask_text(f"{len(failed)} source(s) failed: {parts}")


def rejected_message(files: Iterable[str]) -> str:
    """``2 file(s) rejected, nothing read from them: a.txt, b.txt (raw_quarantine line 0 says why)``."""
    names = sorted(files)
    return f"{len(names)} file(s) rejected, nothing read from them: {', '.join(names)} (raw_quarantine line 0 says why)"


def quarantined_message(source: str, entity: str, rows: int,
                        examples: Sequence[tuple[str, int | None, str | None, str]] = (),
                        records: int | None = None) -> str:
    """``3 record(s) quarantined, 5 bad field(s) (first: FEC.txt line 9, Debit: not an amount …): lettrage sql
    "SELECT ..."``: bad rows do not fail a load (their neighbours load), but whoever runs it must see how many records
    were set aside (``records``: a file's lines, an API's objects), which (file, line, field, reason: ``examples``, the
    first few) and where to read the rest. ``rows`` counts ``raw_quarantine``'s rows, one per bad field; without
    ``records`` (the warehouse could not be read) it is said as such."""
    first = "; ".join(f"{file}{f' line {line}' if line is not None else ''}{', ' + field if field else ''}: {reason}"
                      for file, line, field, reason in examples)
    if records is None:
        count = f"{rows:,} bad field(s) quarantined"
    else:
        count = f"{records:,} record(s) quarantined" + (f", {rows:,} bad field(s)" if rows != records else "")
    return mask_text(f"{count}{f' (first: {first})' if first else ''}: lettrage sql \"SELECT "
                     f"file, line, field, reason FROM raw_quarantine WHERE source_system = '{source}' AND entity = "
                     f"'{entity}' ORDER BY file, line\"")


def rows_set_aside(rejected_files: Sequence[str], quarantined: int) -> int:
    """Quarantined rows that are bad rows of loaded files: each rejected file has its own line-0 row."""
    return max(quarantined - len(rejected_files), 0)


def load_detail(source: str, entity: str, rejected_files: Sequence[str], quarantined: int,
                records: int | None = None) -> str:
    """What a source's line of the run summary says beyond its counts: rejected files, quarantined records."""
    parts = [rejected_message(rejected_files)] if rejected_files else []
    if set_aside := rows_set_aside(rejected_files, quarantined):
        parts.append(quarantined_message(source, entity, set_aside, records=records))
    return "; ".join(parts)


@dataclass
class RunOutcome:
    """What a sync did per source: the loaded ones with counts, the failed ones with a reason, and the
    files a loaded source rejected (not in its format): the run goes on, then ends failed saying so."""

    loaded: list[dict[str, Any]] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rejected: dict[str, list[str]] = field(default_factory=dict)

    def add_loaded(self, result: Mapping[str, Any]) -> None:
        self.loaded.append(dict(result))
        if result.get("rejected_files"):
            self.rejected[source_key(str(result["source"]), str(result["entity"]))] = list(result["rejected_files"])

    def add_failed(self, source: str, entity: str, reason: str) -> None:
        self.failed[source_key(source, entity)] = mask_text(reason)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.rejected

    @property
    def rows(self) -> int:
        return sum(int(r.get("rows", 0)) for r in self.loaded)

    def failure_message(self) -> str:
        total = len(self.loaded) + len(self.failed)
        parts = [failure_message(self.failed).replace(" source(s)", f" of {total} source(s)", 1)] if self.failed else []
        parts += [f"{key}: {rejected_message(files)}" for key, files in sorted(self.rejected.items())]
        return mask_text("; ".join(parts))


def rows_loaded_table(loaded: Iterable[Mapping[str, Any]], failed: Mapping[str, str]) -> list[dict[str, Any]]:
    """One row per source for the ``rows-loaded`` artifact, failed sources included (and named)."""
    rows: list[dict[str, Any]] = []
    for r in loaded:
        seconds = float(r.get("seconds") or 0)
        rows.append({
            "source": source_key(r["source"], r["entity"]), "status": "loaded", "rows": int(r["rows"]),
            "quarantined": int(r.get("quarantined") or 0), "seconds": round(seconds, 2),
            "rows_per_s": int(r["rows"] / seconds) if seconds > 0 else 0,
            "detail": load_detail(r["source"], r["entity"], list(r.get("rejected_files") or ()),
                                  int(r.get("quarantined") or 0), r.get("quarantined_records")),
        })
    for key, reason in sorted(failed.items()):
        rows.append({"source": key, "status": "FAILED", "rows": 0, "quarantined": 0, "seconds": 0,
                     "rows_per_s": 0, "detail": mask_text(reason)})
    return rows


def match_rate_table(stats: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per entity: cash payments, how many were applied automatically or by a person, the rate."""
    out = []
    for s in stats:
        payments, matched = int(s["payments"]), int(s["matched"])
        out.append({"entity": s["entity"], "payments": payments, "matched": matched,
                    "match_rate": f"{(matched / payments * 100) if payments else 0.0:.1f}%",
                    "suggested": int(s.get("suggested") or 0), "open_exceptions": int(s.get("open_exceptions") or 0)})
    return out


def exceptions_table(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """New exceptions of this run per entity and kind (amounts only — details may name people)."""
    return [{"entity": r["entity"], "kind": r["kind"], "count": int(r["n"]), "amount": str(r.get("amount") or "0.00")}
            for r in rows]


_LIMIT_CACHE_SECONDS = 300.0
_known_limits: dict[str, tuple[bool, float]] = {}


def limit_exists(name: str) -> bool:
    """Whether the Prefect server has global concurrency limit ``name`` (cached a few minutes per process).

    Checked before acquiring so that a server without limits (a temporary local one)
    runs unthrottled without a warning per task; an unreachable API counts as "no limit".
    """
    import time

    now = time.monotonic()
    cached = _known_limits.get(name)
    if cached is not None and now - cached[1] < _LIMIT_CACHE_SECONDS:
        return cached[0]
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
        exists = bool(limit.active)
    except Exception:  # ObjectNotFound, or no API: run without the limit
        exists = False
    _known_limits[name] = (exists, now)
    return exists


async def _aensure_limits(limits: Mapping[str, int]) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    done: dict[str, str] = {}
    async with get_client() as client:
        for name, slots in limits.items():
            try:
                current = await client.read_global_concurrency_limit_by_name(name)
            except ObjectNotFound:
                await client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
                done[name] = f"created ({slots})"
                continue
            if current.limit != slots or not current.active:
                await client.update_global_concurrency_limit(
                    name, GlobalConcurrencyLimitUpdate(limit=slots, active=True))
                done[name] = f"updated ({current.limit} -> {slots})"
            else:
                done[name] = f"unchanged ({slots})"
    return done


def ensure_concurrency_limits(limits: Mapping[str, int] | None = None, *,
                              warehouse_slots: int = 1) -> dict[str, str]:
    """Create or update the global concurrency limits the flows occupy; idempotent.

    Flows acquire slots non-strictly, so a server without these limits (a temporary
    local one) still runs everything, only without throttling.
    """
    per_source = DEFAULT_SOURCE_LIMITS if limits is None else limits
    wanted = {concurrency_limit_name(s): n for s, n in per_source.items()}
    wanted[WAREHOUSE_LIMIT] = warehouse_slots
    done = asyncio.run(_aensure_limits(wanted))
    _known_limits.clear()
    return done


def proposals_dir() -> Path:
    """Where runs write the lettrage proposal files for the ERPs (``LETTRAGE__PROPOSALS_DIR``, default var/erp)."""
    return Path(os.environ.get("LETTRAGE__PROPOSALS_DIR", str(Path("var") / "erp"))).resolve()


def reports_dir() -> Path:
    """Where the nightly run writes its HTML reports and workbook (``LETTRAGE__REPORTS_DIR``, default var/reports)."""
    return Path(os.environ.get("LETTRAGE__REPORTS_DIR", str(Path("var") / "reports"))).resolve()
