"""Deterministic fault injection for the provider sandbox.

A :class:`FaultPlan` says what goes wrong and when, counted in requests from the
moment it was set, so a test gets the same failures on every run:

- ``rate_limit``: the next N requests answer 429 (Stripe ``Retry-After``,
  GoCardless ``ratelimit-reset``/``ratelimit-remaining: 0``);
- ``server_error``: the next N requests (after the 429s) answer ``server_error_status``;
- ``drop_on``: request numbers (1-based) whose connection is cut mid-response;
- ``storm_seconds``: every request answers 429 for T seconds;
- ``revoked``: keys/tokens that now answer 401, as an expired credential would.

``provider`` (``stripe``, ``gocardless`` or ``*``) and ``path_contains`` scope it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = (
    tuple[Literal["rate_limit"], float] | tuple[Literal["server_error"], int] | tuple[Literal["drop"], int]
)


@dataclass(slots=True)
class FaultPlan:
    provider: str = "*"
    path_contains: str | None = None
    rate_limit: int = 0
    retry_after: float = 1.0
    server_error: int = 0
    server_error_status: int = 500
    drop_on: list[int] = field(default_factory=list)
    storm_seconds: float = 0.0
    revoked: list[str] = field(default_factory=list)


class Faults:
    """The plan in force plus counters; thread-safe because uvicorn may serve from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plan = FaultPlan()
        self._seen = 0
        self._storm_until = 0.0
        self.requests: dict[str, int] = {"stripe": 0, "gocardless": 0}
        self.injected: dict[str, int] = {"rate_limit": 0, "server_error": 0, "drop": 0}

    def set(self, **kwargs: Any) -> FaultPlan:
        """Replace the plan (unknown keys are an error) and restart the request and injection counts."""
        plan = FaultPlan(**kwargs)
        with self._lock:
            self._plan, self._seen = plan, 0
            self.injected = dict.fromkeys(self.injected, 0)
            self._storm_until = time.monotonic() + plan.storm_seconds if plan.storm_seconds else 0.0
        return plan

    def clear(self) -> None:
        self.set()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "plan": asdict(self._plan),
                "seen": self._seen,
                "requests": dict(self.requests),
                "injected": dict(self.injected),
            }

    def is_revoked(self, credential: str) -> bool:
        return credential in self._plan.revoked

    def decide(self, provider: str, path: str) -> Action | None:
        """What to do with this request: nothing, a 429, a 5xx or a dropped connection."""
        with self._lock:
            self.requests[provider] = self.requests.get(provider, 0) + 1
            plan = self._plan
            if plan.provider not in ("*", provider) or (
                plan.path_contains and plan.path_contains not in path
            ):
                return None
            self._seen += 1
            n = self._seen
            if self._storm_until and time.monotonic() < self._storm_until:
                self.injected["rate_limit"] += 1
                return ("rate_limit", max(self._storm_until - time.monotonic(), 0.0))
            if n in plan.drop_on:
                self.injected["drop"] += 1
                return ("drop", n)
            if n <= plan.rate_limit:
                self.injected["rate_limit"] += 1
                return ("rate_limit", plan.retry_after)
            if n <= plan.rate_limit + plan.server_error:
                self.injected["server_error"] += 1
                return ("server_error", plan.server_error_status)
            return None
