"""Retry decisions for Stripe failures, and the shared policy that acts on them."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest
import stripe

from connectors._http import RetryPolicy, Verdict, Windows, call_with_retries, parse_retry_after
from connectors.stripe.retry import classify
from lettrage.errors import AuthenticationExpired, PermanentSourceError, RetriesExhausted


@pytest.mark.parametrize(
    ("exc", "retry", "auth", "hint"),
    [
        (stripe.RateLimitError("slow down", http_status=429, headers={"Retry-After": "3"}), True, False, 3.0),
        (stripe.RateLimitError("slow down", http_status=429, headers={}), True, False, None),
        (stripe.APIError("boom", http_status=500, headers={}), True, False, None),
        (stripe.APIError("busy", http_status=503, headers={"Retry-After": "1"}), True, False, 1.0),
        (
            stripe.APIError("boom", http_status=500, headers={"Stripe-Should-Retry": "false"}),
            False,
            False,
            None,
        ),
        (
            stripe.InvalidRequestError(
                "lock", None, http_status=400, headers={"stripe-should-retry": "true"}
            ),
            True,
            False,
            None,
        ),
        (stripe.APIConnectionError("reset by peer", should_retry=True), True, False, None),
        (stripe.AuthenticationError("Invalid API Key provided", http_status=401), False, True, None),
        (stripe.PermissionError("restricted key", http_status=403), False, True, None),
        (stripe.InvalidRequestError("No such charge", "id", http_status=404, headers={}), False, False, None),
    ],
    ids=[
        "429-retry-after",
        "429-no-hint",
        "500",
        "503-hint",
        "500-should-retry-false",
        "400-should-retry-true",
        "connection",
        "401",
        "403",
        "404",
    ],
)
def test_classify(exc: Exception, retry: bool, auth: bool, hint: float | None) -> None:
    verdict = classify(exc)
    assert (verdict.retry, verdict.auth, verdict.retry_after) == (retry, auth, hint)


def test_classify_leaves_our_own_bugs_alone() -> None:
    assert classify(KeyError("x")) == Verdict(retry=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2", 2.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        (None, None),
        ("soon", None),
        (formatdate(1_000_030, usegmt=True), 30.0),
    ],
    ids=["seconds", "fraction", "negative", "absent", "garbage", "http-date"],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=1_000_000) == expected


def test_backoff_grows_exponentially_within_jitter_and_cap() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, jitter=0.5)
    rng = random.Random(1)
    for attempt, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (7, 8.0)]:
        for _ in range(20):
            assert step * 0.5 <= policy.backoff(attempt, rng) <= step
    assert policy.wait_for(1, 5.0, rng) == 5.0  # the server's longer hint wins
    assert policy.wait_for(4, 0.1, rng) >= 4.0  # … but never shortens our backoff


class Flaky:
    def __init__(self, failures: list[BaseException]) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_call_with_retries_recovers_and_honours_hints() -> None:
    slept: list[float] = []
    fn = Flaky(
        [
            stripe.RateLimitError("x", http_status=429, headers={"Retry-After": "2"}),
            stripe.APIConnectionError("drop", should_retry=True),
        ]
    )
    policy = RetryPolicy(base_delay=0.1, max_delay=1.0, max_total_wait=10)
    assert (
        call_with_retries(
            fn,
            endpoint="/v1/charges",
            cursor="ch_1",
            classify=classify,
            policy=policy,
            sleep=slept.append,
            rng=random.Random(0),
        )
        == "ok"
    )
    assert fn.calls == 3 and slept[0] == 2.0 and 0.1 <= slept[1] <= 0.2


def test_auth_failure_is_never_retried() -> None:
    slept: list[float] = []
    fn = Flaky([stripe.AuthenticationError("Invalid API Key provided: sk_test_****1234", http_status=401)])
    with pytest.raises(AuthenticationExpired, match="secrets.toml"):
        call_with_retries(
            fn,
            endpoint="/v1/charges",
            cursor=None,
            classify=classify,
            policy=RetryPolicy(),
            sleep=slept.append,
        )
    assert fn.calls == 1 and slept == []


def test_bad_request_is_permanent() -> None:
    fn = Flaky([stripe.InvalidRequestError("No such charge", "id", http_status=404, headers={})])
    with pytest.raises(PermanentSourceError, match="HTTP 404"):
        call_with_retries(
            fn,
            endpoint="/v1/charges",
            cursor=None,
            classify=classify,
            policy=RetryPolicy(),
            sleep=lambda s: None,
        )


@pytest.mark.parametrize(
    ("policy", "calls"),
    [
        (RetryPolicy(max_attempts=4, base_delay=0.01, max_total_wait=100), 4),
        (RetryPolicy(max_attempts=50, base_delay=1.0, max_delay=1.0, jitter=0.0, max_total_wait=3.5), 4),
    ],
    ids=["attempt-cap", "total-wait-cap"],
)
def test_budget_runs_out_with_endpoint_and_cursor_named(policy: RetryPolicy, calls: int) -> None:
    slept: list[float] = []
    fn = Flaky([stripe.APIError("boom", http_status=500, headers={}) for _ in range(60)])
    with pytest.raises(RetriesExhausted) as info:
        call_with_retries(
            fn,
            endpoint="/v1/balance_transactions",
            cursor="txn_9",
            classify=classify,
            policy=policy,
            sleep=slept.append,
        )
    assert fn.calls == calls and sum(slept) <= policy.max_total_wait
    assert (info.value.endpoint, info.value.cursor) == ("/v1/balance_transactions", "txn_9")
    assert "txn_9" in str(info.value) and isinstance(info.value.__cause__, stripe.APIError)


@pytest.mark.parametrize(
    ("start", "end", "now", "rows", "expected"),
    [
        (0, 30, 100, [1, 1, 1], [(0, 10), (10, 20), (20, 30)]),
        (0, None, 25, [1, 1, 1], [(0, 10), (10, 20), (20, None)]),
        (0, None, 100, [0, 0, 0, 5], [(0, 10), (10, 30), (30, 70), (70, None)]),
        (50, None, 10, [0], [(50, None)]),
        (30, 30, 100, [], []),
    ],
    ids=["closed", "open-end", "empty-windows-double", "start-after-now", "empty-range"],
)
def test_windows(
    start: int, end: int | None, now: int, rows: list[int], expected: list[tuple[int, int | None]]
) -> None:
    walker = Windows(start, end, now, base=10, max_span=40)
    got = []
    for window, n in zip(walker, rows + [1] * 10, strict=False):
        got.append(window)
        walker.report(n)
    assert got == expected


@pytest.mark.parametrize(
    ("window_rows", "batch", "max_pages", "expected"),
    [
        ([7, 5], 1, None, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]),
        ([7, 5], 2, None, [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]),
        ([7, 6], 3, None, [[0, 1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12]]),
        ([7, 5], 3, 2, [[0, 1, 2, 3, 4, 5]]),
        ([7, 5], 2, 3, [[0, 1, 2, 3, 4, 5], [6, 7, 8]]),
        ([2], 4, 1, [[0, 1]]),
        ([7, 5], 2, 0, []),
    ],
    ids=["page-per-item", "two-pages-per-item", "short-tail", "max-pages-caps-a-batch",
         "max-pages-cuts-the-last-batch", "less-than-a-page", "zero-pages"],
)
def test_window_pages_batch_rows_and_count_max_pages_in_pages(
    window_rows: list[int], batch: int, max_pages: int | None, expected: list[list[int]]
) -> None:
    """Rows come out in order, ``batch`` pages of 3 per item; ``max_pages`` counts pages, not items."""
    counter = iter(range(1000))
    sizes = iter(window_rows + [0] * 10)

    def fetch(lo: int, hi: int | None) -> list[dict[str, int]]:
        return [{"n": next(counter)} for _ in range(next(sizes))]

    walker = Windows(0, len(window_rows) * 10, 1000, base=10, max_span=10)
    items = list(walker.pages(fetch, 3, lambda rows: [r["n"] for r in rows], batch=batch, max_pages=max_pages))
    assert items == expected


def test_urllib3_transport_turns_a_refused_connection_into_the_sdks_retryable_error() -> None:
    """The SDK's own requests transport said APIConnectionError(should_retry=True); ours must too."""
    import socket

    import stripe

    from connectors.stripe.client import Urllib3Client
    from connectors.stripe.retry import classify

    with socket.socket() as probe:  # a port nobody listens on: bind, read the number, close
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Urllib3Client(f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(stripe.APIConnectionError) as failure:
        client.request("get", f"http://127.0.0.1:{port}/v1/charges", {"Authorization": "Bearer sk_test_x"})
    assert failure.value.should_retry is True
    assert classify(failure.value).retry is True
