"""How a desk process is configured: a small value object with safe defaults.

Read from the environment (``LETTRAGE__DESK_*``) by :func:`load_settings`; tests
build one directly. The SSO header is off unless named: trusting a header is
only safe behind a proxy that strips it from clients' requests.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

from actions.dunning.smtp import SmtpSettings
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
    smtp: SmtpSettings | None = None  # notices (assignments, comments) go out at once; None: they wait in the outbox
    base_url: str = ""  # e.g. https://desk.example.com, for links in notices
    slow_figure_wait_s: float = 2.0  # how long a page waits for a slow figure (forecast back-test) before showing it later
    db_roles: bool = True  # on Postgres after `lettrage access init`: each request acts as the user's role (desk.db)


def _smtp() -> SmtpSettings | None:
    """The dunning SMTP settings (``DUNNING__SMTP__*``) when configured; the desk shares that channel."""
    from actions.dunning.smtp import load_smtp_settings
    from lettrage.errors import ConfigurationError

    try:
        return load_smtp_settings()
    except ConfigurationError:
        return None


def load_settings() -> DeskSettings:
    env = os.environ.get
    secure = env("LETTRAGE__DESK_SECURE_COOKIES")
    return DeskSettings(
        smtp=_smtp(), base_url=(env("LETTRAGE__DESK_BASE_URL") or "").rstrip("/"),
        warehouse=load_warehouse_config(),
        secret=env("LETTRAGE__DESK_SECRET") or secrets.token_urlsafe(32),
        secure_cookies=None if secure is None else secure.lower() in ("1", "true", "yes"),
        sso_header=env("LETTRAGE__DESK_SSO_HEADER") or None,
    )
