"""Retries for provider APIs, shared by the Stripe and GoCardless connectors.

The SDKs' own retries are switched off (or left to their connection-level
minimum) because we need one policy we can reason about and test:

- a source-specific ``classify(exc) -> Verdict`` decides *whether* to retry
  (429, 5xx, dropped connections: yes; 401/403: never, raise
  :class:`~lettrage.errors.AuthenticationExpired`; other 4xx: never) and passes
  on the server's hint (``Retry-After``, ``ratelimit-reset``);
- :func:`call_with_retries` waits ``max(hint, exponential backoff with jitter)``
  and gives up with :class:`~lettrage.errors.RetriesExhausted` — naming the
  endpoint and cursor — once attempts or the total wait budget run out.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, Self, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from lettrage.errors import (
    AuthenticationExpired,
    PermanentSourceError,
    ResourceGone,
    RetriesExhausted,
)

T = TypeVar("T")
log = logging.getLogger("lettrage.connectors.http")

DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_BASE_DELAY_S = 0.5
DEFAULT_MAX_DELAY_S = 30.0
DEFAULT_MAX_TOTAL_WAIT_S = 300.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try. Tests use a tiny ``max_total_wait``; nightly runs the defaults."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    base_delay: float = DEFAULT_BASE_DELAY_S
    max_delay: float = DEFAULT_MAX_DELAY_S
    max_total_wait: float = DEFAULT_MAX_TOTAL_WAIT_S
    jitter: float = 0.5  # share of each backoff step drawn at random, so parallel syncs do not retry in step

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff for the ``attempt``-th failure (1-based), jittered, capped at ``max_delay``."""
        step = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return step * (1 - self.jitter) + step * self.jitter * rng.random()

    def wait_for(self, attempt: int, hint: float | None, rng: random.Random) -> float:
        """The server's hint wins when it asks for longer than our backoff."""
        return max(hint or 0.0, self.backoff(attempt, rng))


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a failure means: retry (with the server's hint), or stop (auth, gone, other)."""

    retry: bool
    retry_after: float | None = None
    auth: bool = False
    gone: bool = False
    status: int | None = None
    reason: str = ""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After``/``ratelimit-reset``: seconds (``"2"``) or an HTTP date; else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return max(when - (time.time() if now is None else now), 0.0)


def call_with_retries(
    fn: Callable[[], T],
    *,
    endpoint: str,
    cursor: str | None,
    classify: Callable[[BaseException], Verdict],
    policy: RetryPolicy,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn`` until it succeeds, a failure is permanent, or the budget is spent.

    Raises :class:`AuthenticationExpired`, :class:`ResourceGone`, :class:`PermanentSourceError`
    or :class:`RetriesExhausted`; the SDK exception is always chained as ``__cause__``.
    """
    try:  # the happy path, nearly every call: no retry state to build (tenacity's costs ~0.3 ms a call)
        return fn()
    except Exception as exc:  # noqa: BLE001 -- attempt 1 of the loop below, which classifies it and re-raises
        first: BaseException = exc
    calls = 0

    def attempt() -> T:
        """Attempt 1 is the call that just failed: tenacity sees it fail without a second request."""
        nonlocal calls
        calls += 1
        if calls == 1:
            raise first
        return fn()

    rng = rng or random.Random()

    def wait(rs: RetryCallState) -> float:
        exc = rs.outcome.exception() if rs.outcome else None
        hint = classify(exc).retry_after if exc is not None else None
        return policy.wait_for(rs.attempt_number, hint, rng)

    def stop(rs: RetryCallState) -> bool:
        return (
            rs.attempt_number >= policy.max_attempts
            or rs.idle_for + (rs.upcoming_sleep or 0.0) > policy.max_total_wait
        )

    def before_sleep(rs: RetryCallState) -> None:
        exc = rs.outcome.exception() if rs.outcome else None
        log.warning(
            "%s at cursor %s failed (%s: %s); retry %d in %.2fs",
            endpoint,
            cursor,
            type(exc).__name__,
            classify(exc).reason if exc else "",
            rs.attempt_number,
            rs.upcoming_sleep,
        )

    retrying = Retrying(
        retry=retry_if_exception(lambda e: classify(e).retry),
        wait=wait,
        stop=stop,
        sleep=sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return retrying(attempt)
    except Exception as exc:
        verdict = classify(exc)
        if verdict.status is None and not (verdict.retry or verdict.auth or verdict.gone):
            raise  # not a provider failure: a bug of ours, let it surface as it is
        attempts = int(retrying.statistics.get("attempt_number", 1))
        if verdict.auth:
            raise AuthenticationExpired(
                f"{endpoint}: credentials refused (HTTP {verdict.status}): {verdict.reason}. "
                "Renew the API key/access token in secrets.toml and run again"
            ) from exc
        if verdict.gone:
            raise ResourceGone(f"{endpoint} at cursor {cursor!r}: HTTP 410 Gone: {verdict.reason}") from exc
        if verdict.retry:
            raise RetriesExhausted(endpoint, cursor, attempts, exc) from exc
        raise PermanentSourceError(
            f"{endpoint} at cursor {cursor!r}: HTTP {verdict.status}: {verdict.reason}"
        ) from exc


Row = dict[str, Any]


class Rows(Protocol):
    """A window's rows, oldest first: a list of dicts, or an Arrow table of them."""

    def __len__(self) -> int: ...
    def __getitem__(self, key: slice, /) -> Self: ...


R = TypeVar("R", bound=Rows)


class Windows:
    """Ascending ``[lo, hi)`` windows of creation time over ``[start, end)``; ``hi=None``: open end.

    Why windows: both APIs list newest first, but a load that can stop after any
    page and resume from dlt's saved cursor needs rows in ascending order. Each
    window is listed newest first, then handed over oldest first. An empty window
    doubles the next one (up to ``max_span``), so a sync that starts years before
    the first object costs a handful of requests, not hundreds.
    """

    def __init__(self, start: int, end: int | None, now: int, *, base: int, max_span: int) -> None:
        self.start, self.end, self.now, self.base, self.max_span = start, end, now, base, max_span
        self._span = base

    def report(self, rows: int) -> None:
        """Tell the walker how many rows the last window held."""
        self._span = self.base if rows else min(self._span * 2, self.max_span)

    def __iter__(self) -> Iterator[tuple[int, int | None]]:
        lo = self.start
        top = self.end if self.end is not None else self.now
        while self.end is None or lo < self.end:
            hi = lo + self._span
            if hi >= top:
                yield lo, self.end
                return
            yield lo, hi
            lo = hi

    def pages(
        self,
        fetch: Callable[[int, int | None], R],
        page_size: int,
        prepare: Callable[[R], Any],
        *,
        batch: int = 1,
        max_pages: int | None = None,
        join: Callable[[list[R]], R] | None = None,
    ) -> Iterator[Any]:
        """Walk the windows with ``fetch(lo, hi)`` and yield full pages of ``prepare``d rows, oldest first.

        ``fetch`` answers a window's rows, oldest first, as anything with ``len`` and slicing:
        a list of rows, or an Arrow table of them (``join`` then puts two such together;
        lists are concatenated). ``prepare`` turns rows into what the resource yields (an
        Arrow table), ``batch`` pages at a time: dlt spends a fixed few milliseconds per item
        it receives, which at one API page per item was a third of the extract. ``max_pages``
        stops after that many pages (of ``page_size`` rows, whatever the batch) so a long sync
        can be cut into committed chunks; the cursor then covers exactly the rows yielded.
        When nothing at all came back, yield dlt's marker that still creates the table
        with its declared columns, so staging SQL can rely on them.
        """
        import dlt

        if max_pages is not None and max_pages < 1:
            return  # nothing asked for (and a zero batch would never fill)
        concat = join or _join_lists
        buffer: R | None = None
        yielded = 0  # pages
        for lo, hi in self:
            rows = fetch(lo, hi)
            self.report(len(rows))
            buffer = rows if buffer is None or not len(buffer) else concat([buffer, rows])
            done = 0
            while True:
                want = batch if max_pages is None else min(batch, max_pages - yielded)
                if len(buffer) - done < page_size * want:
                    break
                yield prepare(buffer[done : done + page_size * want])
                done += page_size * want
                yielded += want
                if max_pages is not None and yielded >= max_pages:
                    return
            if done:
                buffer = buffer[done:]
        if buffer is not None and len(buffer):
            yield prepare(buffer)
        elif not yielded:
            yield dlt.mark.materialize_table_schema()


def _join_lists(parts: list[Any]) -> Any:
    return [row for part in parts for row in part]


def resolved_session(base_url: str) -> Any:
    """A ``requests.Session`` that reads proxy and CA settings from the environment once.

    Why: with ``trust_env`` requests re-reads every proxy variable (and ``.netrc``) on
    each request — a tenth of a provider sync's time at 100 rows a page. The same
    settings, resolved once for ``base_url`` through requests' own merge, are pinned on
    the session instead, so a proxy or a CA bundle set for the nightly job still applies.
    """
    import requests

    session = requests.Session()
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.trust_env = False
    session.proxies.update(settings.get("proxies") or {})
    session.verify = settings.get("verify", True)
    if settings.get("cert") is not None:
        session.cert = settings["cert"]
    return session


def external_schedule() -> bool | None:
    """``allow_external_schedulers`` for our incrementals: ``True`` only when a scheduler gave an interval.

    dlt 1.31 made ``allow_external_schedulers=True`` strict (it raises without an
    interval), so we ask dlt's own detection (``DLT_INTERVAL_START``/``_END``,
    Airflow's context) and otherwise leave it to dlt (``None``).
    """
    from dlt.extract.incremental.context import get_interval_context

    context = get_interval_context()  # None when dlt cannot make one (as dlt.current.interval() allows for)
    return True if context is not None and context.interval is not None else None


class HttpFailure(Exception):
    """A non-2xx answer from an httpx-based client (Sage Accounting, NetSuite, SAP B1): status, headers, body."""

    def __init__(self, url: str, status: int, headers: dict[str, str], body: str) -> None:
        self.url, self.status, self.headers, self.body = url, status, headers, body
        super().__init__(f"HTTP {status} from {url}: {body[:300]}")


def classify_http(exc: BaseException) -> Verdict:
    """Retry verdict for httpx clients: transport errors, 429 and 5xx retry (honouring ``Retry-After``), 401/403 are auth."""
    import httpx

    if isinstance(exc, httpx.TransportError):
        return Verdict(retry=True, status=0, reason=f"connection failed: {exc!r}")
    if not isinstance(exc, HttpFailure):
        return Verdict(retry=False)
    hint = parse_retry_after(exc.headers.get("retry-after"))
    if exc.status in (401, 403):
        return Verdict(retry=False, auth=True, status=exc.status, reason=exc.body[:300])
    if exc.status == 429 or exc.status >= 500:
        return Verdict(retry=True, retry_after=hint, status=exc.status, reason=exc.body[:200])
    if exc.status == 410:
        return Verdict(retry=False, gone=True, status=410, reason=exc.body[:300])
    return Verdict(retry=False, status=exc.status, reason=exc.body[:300])
