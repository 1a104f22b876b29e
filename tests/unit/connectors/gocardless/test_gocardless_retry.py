"""Retry decisions for GoCardless failures (ratelimit-reset, 410 Gone, auth)."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest
import requests
from gocardless_pro import errors as gc

from connectors.gocardless.retry import classify


def api_error(
    cls: type[gc.ApiError], status: int, type_: str, headers: dict[str, str] | None = None
) -> gc.ApiError:
    exc = cls({"type": type_, "code": status, "message": f"HTTP {status}", "errors": []})
    exc.status_code = status  # type: ignore[attr-defined]
    exc.response_headers = headers or {}  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("exc", "retry", "auth", "gone"),
    [
        (api_error(gc.RateLimitError, 429, "invalid_api_usage"), True, False, False),
        (api_error(gc.GoCardlessInternalError, 500, "gocardless"), True, False, False),
        (api_error(gc.GoCardlessInternalError, 503, "gocardless"), True, False, False),
        (api_error(gc.AuthenticationError, 401, "invalid_api_usage"), False, True, False),
        (api_error(gc.PermissionsError, 403, "invalid_api_usage"), False, True, False),
        (api_error(gc.InvalidApiUsageError, 410, "invalid_api_usage"), False, False, True),
        (api_error(gc.ValidationFailedError, 422, "validation_failed"), False, False, False),
        (requests.exceptions.ChunkedEncodingError("IncompleteRead"), True, False, False),
        (requests.ConnectionError("refused"), True, False, False),
        (requests.Timeout("read timeout"), True, False, False),
        (gc.MalformedResponseError("html from a proxy", "<html>", 502), True, False, False),
        (gc.MalformedResponseError("not found page", "Not Found", 404), False, False, False),
    ],
    ids=[
        "429",
        "500",
        "503",
        "401",
        "403",
        "410",
        "422",
        "dropped",
        "refused",
        "timeout",
        "502-html",
        "404-html",
    ],
)
def test_classify(exc: Exception, retry: bool, auth: bool, gone: bool) -> None:
    verdict = classify(exc)
    assert (verdict.retry, verdict.auth, verdict.gone) == (retry, auth, gone)


def test_rate_limit_waits_until_ratelimit_reset() -> None:
    reset = formatdate(time.time() + 20, usegmt=True)
    verdict = classify(api_error(gc.RateLimitError, 429, "invalid_api_usage", {"RateLimit-Reset": reset}))
    assert verdict.retry_after is not None and 18 <= verdict.retry_after <= 20
