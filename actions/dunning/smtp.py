"""The email channel: plain ``smtplib`` with STARTTLS or implicit TLS, configurable.

Settings come the dlt way (environment first, then ``.dlt/config.toml`` /
``secrets.toml``)::

    DUNNING__SMTP__HOST=smtp.example.com  DUNNING__SMTP__PORT=587
    DUNNING__SMTP__SECURITY=starttls      # starttls | ssl | none
    DUNNING__SMTP__USERNAME=...           DUNNING__SMTP__PASSWORD=...   (secrets)

Every message carries a ``Message-ID`` derived from its outbox key and an
``X-Lettrage-Outbox`` header, so the server's copy can be found after a crash.
"""

from __future__ import annotations

import email.policy
import os
import signal
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

from actions.dunning.outbox import message_id_header
from lettrage.config import dlt_setting
from lettrage.errors import ConfigurationError, PermanentSourceError, TransientSourceError
from lettrage.logging import register_secret

CRASH_ENV = "LETTRAGE__DUNNING__CRASH_AT"  # fault injection for the crash tests: a hook name


def crash_point(name: str) -> None:
    """Die like a power cut (SIGKILL) at the named point when the test asks for it; no-op otherwise."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0
    verify_tls: bool = True


def load_smtp_settings() -> SmtpSettings:
    """Resolve SMTP settings through dlt's providers (env ``DUNNING__SMTP__*`` first)."""
    def get(key: str, secret: bool = False) -> str | None:
        return dlt_setting(f"dunning.smtp.{key}", secret=secret)

    host = get("host")
    if not host:
        raise ConfigurationError("no SMTP server configured: set DUNNING__SMTP__HOST (and PORT, SECURITY, "
                                 "USERNAME, PASSWORD) or [dunning.smtp] in .dlt/config.toml / secrets.toml")
    security = (get("security") or "starttls").lower()
    if security not in ("starttls", "ssl", "none"):
        raise ConfigurationError(f"DUNNING__SMTP__SECURITY must be starttls, ssl or none, not {security!r}")
    password = get("password", secret=True)
    register_secret(password)
    return SmtpSettings(host=host, port=int(get("port") or (465 if security == "ssl" else 587)),
                        security=security,  # type: ignore[arg-type]
                        username=get("username", secret=True) or get("username"), password=password)


# CRLF line ends; headers folded only beyond RFC 5322's 998 characters: Python's folding at 78 splits a subject's
# non-ASCII words into encoded-words on two lines, and a reader drops the space between them ("échéance— Garage")
WIRE = email.policy.SMTP.clone(max_line_length=998)


def build_email(*, message_id: str, sender: str, recipients: list[str], subject: str, body: str,
                reply_to: str | None = None, language: str = "en") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id_header(message_id)
    msg["X-Lettrage-Outbox"] = message_id
    if reply_to:
        msg["Reply-To"] = reply_to
    msg.set_content(body, cte="quoted-printable")  # 7-bit safe on any server, accents included
    msg["Content-Language"] = language  # after set_content, which resets Content-* headers
    return msg


class SmtpSender:
    """One connection per batch; ``send`` returns the server's acceptance line for the record."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify_tls:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            if s.security == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
            else:
                conn = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
                if s.security == "starttls":
                    conn.starttls(context=context)
            conn.ehlo_or_helo_if_needed()
            if s.username:
                conn.login(s.username, s.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentSourceError(f"SMTP {s.host}:{s.port} refused the login: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientSourceError(f"cannot reach SMTP {s.host}:{s.port} ({s.security}): {exc}") from exc
        return conn

    def send(self, msg: EmailMessage) -> str:
        """Deliver one message. Raises TransientSourceError before DATA (safe to retry), or
        PermanentSourceError when every recipient is refused; anything after DATA propagates as is."""
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        sender = msg["From"]
        recipients = [r.strip() for r in str(msg["To"]).split(",") if r.strip()]
        try:
            code, resp = conn.mail(str(sender))
            if code != 250:
                raise PermanentSourceError(f"SMTP refused sender {sender}: {code} {resp!r}")
            accepted = [r for r in recipients if conn.rcpt(r)[0] in (250, 251)]
        except smtplib.SMTPServerDisconnected as exc:
            self._conn = None
            raise TransientSourceError(f"SMTP {self.settings.host} disconnected before sending: {exc}") from exc
        if not accepted:
            conn.rset()
            raise PermanentSourceError(f"SMTP refused every recipient of {msg['Message-ID']}: {recipients}")
        code, resp = conn.data(msg.as_bytes(policy=WIRE))
        if code != 250:
            raise PermanentSourceError(f"SMTP refused the data of {msg['Message-ID']}: {code} {resp!r}")
        crash_point("after_smtp_accept")
        return f"{code} {resp.decode(errors='replace') if isinstance(resp, bytes) else resp}"

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._conn = None
