"""An :class:`~actions.dunning.outbox.AcceptanceChecker` that searches the mail archive over IMAP.

After a crash between SMTP acceptance and the outbox record, the question is
"did the server accept message X?". Most setups keep a copy of every outgoing
message (the provider's *Sent* folder, a server-side BCC to an archive mailbox):
searching it for the ``Message-ID`` derived from the outbox key answers it.

Server and credentials come the dlt way, like SMTP (environment first)::

    DUNNING__IMAP__HOST=imap.example.com  DUNNING__IMAP__PORT=993
    DUNNING__IMAP__SECURITY=ssl            # ssl | starttls | none
    DUNNING__IMAP__USERNAME=...            DUNNING__IMAP__PASSWORD=...   (secrets)

Which mailboxes to search, and whether "not found" proves the message never left,
are policy: ``acceptance`` in ``mappings/dunning.yaml``. By default absence proves
nothing (an archive may lag), so the message goes to review rather than out again.
"""

from __future__ import annotations

import imaplib
import logging
import ssl
from dataclasses import dataclass
from typing import Literal

from lettrage.config import dlt_setting
from lettrage.errors import ConfigurationError
from lettrage.logging import register_secret
from mappings.dunning import Acceptance

log = logging.getLogger("lettrage.actions.dunning")


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str = "127.0.0.1"
    port: int = 993
    security: Literal["ssl", "starttls", "none"] = "ssl"
    username: str = ""
    password: str = ""
    mailboxes: tuple[str, ...] = ("Sent",)
    absent_is_proof: bool = False
    timeout_s: float = 30.0
    verify_tls: bool = True


def load_imap_settings(policy: Acceptance) -> ImapSettings | None:
    """IMAP settings from dlt config (``DUNNING__IMAP__*``) plus the policy; None when no IMAP host is set."""
    def get(key: str, secret: bool = False) -> str | None:
        return dlt_setting(f"dunning.imap.{key}", secret=secret)

    host = get("host")
    if not host:
        return None
    security = (get("security") or "ssl").lower()
    if security not in ("ssl", "starttls", "none"):
        raise ConfigurationError(f"DUNNING__IMAP__SECURITY must be ssl, starttls or none, not {security!r}")
    username = get("username", secret=True) or get("username")
    password = get("password", secret=True)
    if not username or not password:
        raise ConfigurationError("DUNNING__IMAP__HOST is set but USERNAME/PASSWORD are not (secrets.toml or env)")
    register_secret(password)
    return ImapSettings(host=host, port=int(get("port") or (993 if security == "ssl" else 143)),
                        security=security,  # type: ignore[arg-type]
                        username=username, password=password, mailboxes=tuple(policy.mailboxes),
                        absent_is_proof=policy.absent_is_proof)


class ImapAcceptanceChecker:
    """``accepted(<id@domain>)``: True when found in a searched mailbox; False only when absence is proof;
    None when it cannot tell (server unreachable, login refused, mailbox missing)."""

    def __init__(self, settings: ImapSettings) -> None:
        self.settings = settings

    def _connect(self) -> imaplib.IMAP4:
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify_tls:
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        if s.security == "ssl":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=s.timeout_s)
        else:
            conn = imaplib.IMAP4(s.host, s.port, timeout=s.timeout_s)
            if s.security == "starttls":
                conn.starttls(ssl_context=context)
        conn.login(s.username, s.password)
        return conn

    def accepted(self, message_id_header: str) -> bool | None:
        s = self.settings
        quoted = '"' + message_id_header.replace("\\", "\\\\").replace('"', '\\"') + '"'
        try:
            conn = self._connect()
        except (OSError, imaplib.IMAP4.error) as exc:
            log.warning("IMAP %s:%s unreachable or login refused, cannot verify %s: %s",
                        s.host, s.port, message_id_header, exc)
            return None
        try:
            for mailbox in s.mailboxes:
                status, _ = conn.select(f'"{mailbox}"', readonly=True)
                if status != "OK":
                    log.warning("IMAP mailbox %r not found on %s: cannot verify %s", mailbox, s.host,
                                message_id_header)
                    return None
                status, data = conn.search(None, "HEADER", "Message-ID", quoted)
                if status == "OK" and data and data[0] and data[0].split():
                    log.info("IMAP: %s found in %s", message_id_header, mailbox)
                    return True
            return False if s.absent_is_proof else None
        except (OSError, imaplib.IMAP4.error) as exc:
            log.warning("IMAP search for %s on %s failed: %s", message_id_header, s.host, exc)
            return None
        finally:
            try:
                conn.logout()
            except (OSError, imaplib.IMAP4.error):
                pass


def checker_from_config(policy: Acceptance) -> ImapAcceptanceChecker | None:
    """The checker ``acceptance.checker`` asks for, configured from the environment; None for ``none``."""
    if policy.checker == "none":
        return None
    settings = load_imap_settings(policy)
    if settings is None:
        raise ConfigurationError("mappings/dunning.yaml acceptance.checker is imap but DUNNING__IMAP__HOST is not set")
    return ImapAcceptanceChecker(settings)
