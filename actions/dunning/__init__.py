"""Reminders (relances): the right message, at the right time, to the right customer — once.

    select (SQL facts) ─▶ rules (who gets what, why) ─▶ plan (one email per customer, digests)
    ─▶ render (Jinja2, fr/en) ─▶ outbox intent ─▶ send (SMTP / GoCardless) ─▶ confirm ─▶ fct_dunning_action

Beside it: statements of account (``statements``, ``statement_select``, ``run_statements``),
promises to pay as decisions (``promises``), and the IMAP acceptance checker (``imap``)
that settles a crash between the mail server's acceptance and the record.
"""

from __future__ import annotations

from actions.dunning.imap import ImapAcceptanceChecker, ImapSettings, checker_from_config
from actions.dunning.outbox import AcceptanceChecker, recover
from actions.dunning.promises import record_promise_to_pay
from actions.dunning.run import (
    Channels,
    RunReport,
    StaleWarehouse,
    StatementReport,
    run_reminders,
    run_statements,
)
from actions.dunning.smtp import SmtpSender, SmtpSettings, load_smtp_settings

__all__ = ["AcceptanceChecker", "Channels", "ImapAcceptanceChecker", "ImapSettings", "RunReport", "SmtpSender",
           "SmtpSettings", "StaleWarehouse", "StatementReport", "checker_from_config", "load_smtp_settings",
           "record_promise_to_pay", "recover", "run_reminders", "run_statements"]
