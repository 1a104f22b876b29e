"""How a desk process is configured: a small value object with safe defaults.

Read from the environment (``LETTRAGE__DESK_*``) by :func:`load_settings`; tests
build one directly. The SSO header is off unless named: trusting a header is
only safe behind a proxy that strips it from clients' requests.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from lettrage.config import WarehouseConfig, load_warehouse_config

COOKIE_NAME = "lettrage_desk"


@dataclass(frozen=True)
class DeskSettings:
    warehouse: WarehouseConfig = field(default_factory=load_warehouse_config)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))  # per-process if unset: sessions end on restart
    secure_cookies: bool | None = None  # None: Secure when the request came over TLS (scheme or X-Forwarded-Proto)
    trust_forwarded_proto: bool = True
    sso_header: str | None = None  # e.g. "X-Remote-User"; off by default
    max_failures: int = 5
    lock_seconds: int = 15 * 60
    refresh_after_decision: bool = True  # re-run the entity's reconciliation and the marts after a decision


def load_settings() -> DeskSettings:
    env = os.environ.get
    secure = env("LETTRAGE__DESK_SECURE_COOKIES")
    return DeskSettings(
        warehouse=load_warehouse_config(),
        secret=env("LETTRAGE__DESK_SECRET") or secrets.token_urlsafe(32),
        secure_cookies=None if secure is None else secure.lower() in ("1", "true", "yes"),
        sso_header=env("LETTRAGE__DESK_SSO_HEADER") or None,
    )
