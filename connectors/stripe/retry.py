"""Which Stripe failures are worth another try (see ``connectors._http`` for the policy itself).

Transient: 429 (honour ``Retry-After``), 5xx, dropped or refused connections —
unless Stripe says ``Stripe-Should-Retry: false``. Permanent: 401/403
(``AuthenticationExpired``), every other 4xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import stripe

from connectors._http import Verdict, parse_retry_after


def _header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value)
    return None


def classify(exc: BaseException) -> Verdict:
    """Map a Stripe SDK exception to a retry decision."""
    if isinstance(exc, stripe.APIConnectionError):
        return Verdict(retry=True, reason=f"connection failed: {exc.user_message or exc}", status=0)
    if not isinstance(exc, stripe.StripeError):
        return Verdict(retry=False)
    status = exc.http_status
    headers = exc.headers
    message = exc.user_message or str(exc)
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError) or status in (401, 403):
        return Verdict(retry=False, auth=True, status=status, reason=message)
    should = _header(headers, "stripe-should-retry")
    if should == "false":
        return Verdict(retry=False, status=status, reason=message)
    hint = parse_retry_after(_header(headers, "retry-after"))
    if isinstance(exc, stripe.RateLimitError) or status == 429:
        return Verdict(retry=True, retry_after=hint, status=429, reason="rate limited")
    if should == "true" or (status is not None and status >= 500) or status == 409:
        return Verdict(retry=True, retry_after=hint, status=status, reason=message)
    return Verdict(retry=False, status=status, reason=message)
