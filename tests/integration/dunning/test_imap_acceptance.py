"""The IMAP acceptance checker against a real IMAP server on loopback (pymap), and the crash it settles."""

from __future__ import annotations

import imaplib
import os
import signal
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from actions.dunning import ImapAcceptanceChecker, ImapSettings
from actions.dunning.smtp import CRASH_ENV
from lettrage.config import WarehouseConfig
from warehouse.engine import connect

from .conftest import GC_TOKEN, IMAP_PASSWORD, IMAP_USER, STRIPE_KEY
from .test_reminders_smtp import _run

CHILD = Path(__file__).with_name("_child.py")


def _settings(port: int, **kw: Any) -> ImapSettings:
    return ImapSettings(**{"host": "127.0.0.1", "port": port, "security": "none", "username": IMAP_USER,
                           "password": IMAP_PASSWORD, "mailboxes": ("Sent",), "timeout_s": 5.0, **kw})


def _archive(port: int, message_id: str) -> None:
    msg = EmailMessage()
    msg["Message-ID"], msg["Subject"] = message_id, "archived copy"
    msg.set_content("body")
    conn = imaplib.IMAP4("127.0.0.1", port, timeout=5)
    conn.login(IMAP_USER, IMAP_PASSWORD)
    conn.append("Sent", None, imaplib.Time2Internaldate(time.time()), msg.as_bytes())
    conn.logout()


@pytest.mark.parametrize(("kw", "archived", "expected"), [
    ({}, True, True),
    ({}, False, None),
    ({"absent_is_proof": True}, False, False),
    ({"mailboxes": ("INBOX", "Sent")}, True, True),
    ({"mailboxes": ("Archive",)}, True, None),
    ({"password": "wrong"}, True, None),
], ids=["found", "absent_proves_nothing", "absent_is_proof", "second_mailbox", "unknown_mailbox", "login_refused"])
def test_accepted(imap_server: tuple[str, int], kw: dict, archived: bool, expected: bool | None) -> None:
    port = imap_server[1]
    mid = f"<fr01-reminder-{uuid.uuid4().hex}@outbox.lettrage>"
    if archived:
        _archive(port, mid)
    _archive(port, "<someone-else@outbox.lettrage>")
    assert ImapAcceptanceChecker(_settings(port, **kw)).accepted(mid) is expected


def test_unreachable_server_cannot_tell() -> None:
    from .conftest import free_port

    assert ImapAcceptanceChecker(_settings(free_port())).accepted("<x@outbox.lettrage>") is None


# the outbox's crash handling runs on both engines in test_reminders_smtp; here only the IMAP side is new
@pytest.mark.parametrize("warehouse_config", ["duckdb"], indirect=True)
def test_crash_after_acceptance_is_settled_from_the_archive(
        book: WarehouseConfig, archiving_smtp: Any, imap_server: tuple[str, int], provider_sandbox: Any) -> None:
    box, port = archiving_smtp
    env = dict(os.environ, **{CRASH_ENV: "after_smtp_accept"})
    child = subprocess.run(
        [sys.executable, str(CHILD), str(port), provider_sandbox.stripe_base, provider_sandbox.gocardless_base,
         STRIPE_KEY, GC_TOKEN], env=env, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    (crashed,) = box.messages
    report = _run(book, port, provider_sandbox, checker=ImapAcceptanceChecker(_settings(imap_server[1])))
    assert report.recovered == {"sent": 1, "requeued": 0, "review": 0}
    ids = box.ids()
    assert len(ids) == len(set(ids)) and ids.count(crashed["Message-ID"]) == 1
    with connect(book) as engine:
        state, response = engine.query("SELECT state, server_response FROM dunning_outbox WHERE message_id = :id",
                                       {"id": crashed["X-Lettrage-Outbox"]})[0]
    assert state == "sent" and "found by Message-ID" in response
