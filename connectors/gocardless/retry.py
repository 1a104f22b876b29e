"""Which GoCardless failures are worth another try (policy in ``connectors._http``).

Transient: 429 (wait until ``ratelimit-reset``), 5xx, dropped connections,
non-JSON answers from a proxy. Permanent: 401/403 (``AuthenticationExpired``),
410 (``ResourceGone``: payout items older than six months), other 4xx.
The SDK's errors carry no headers; ``client._ApiClient`` attaches them.
"""

from __future__ import annotations

from typing import Any

import requests
from gocardless_pro import errors as gc_errors

from connectors._http import Verdict, parse_retry_after


def _headers(exc: BaseException) -> dict[str, str]:
    return {k.lower(): v for k, v in (getattr(exc, "response_headers", None) or {}).items()}


def classify(exc: BaseException) -> Verdict:
    """Map a gocardless_pro / requests exception to a retry decision."""
    if isinstance(
        exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError
    ):
        return Verdict(retry=True, status=0, reason=f"connection failed: {type(exc).__name__}")
    if isinstance(exc, gc_errors.MalformedResponseError):
        status = exc.status_code or 0
        return Verdict(
            retry=status == 0 or status >= 500 or status == 429, status=status, reason="malformed response"
        )
    if not isinstance(exc, gc_errors.ApiError):
        return Verdict(retry=False)
    code: Any = getattr(exc, "status_code", None) or exc.code
    status = int(code) if code is not None else None
    message = exc.message or str(exc)
    if isinstance(exc, gc_errors.AuthenticationError | gc_errors.PermissionsError) or status in (401, 403):
        return Verdict(retry=False, auth=True, status=status, reason=message)
    if status == 410:
        return Verdict(retry=False, gone=True, status=410, reason=message)
    headers = _headers(exc)
    if isinstance(exc, gc_errors.RateLimitError) or status == 429:
        return Verdict(
            retry=True,
            retry_after=parse_retry_after(headers.get("ratelimit-reset")),
            status=429,
            reason="rate limited",
        )
    if isinstance(exc, gc_errors.GoCardlessInternalError) or (status is not None and status >= 500):
        return Verdict(
            retry=True,
            retry_after=parse_retry_after(headers.get("retry-after")),
            status=status,
            reason=message,
        )
    return Verdict(retry=False, status=status, reason=message)
