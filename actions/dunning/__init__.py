"""Reminders (relances): the right message, at the right time, to the right customer — once.

    select (SQL facts) ─▶ rules (who gets what, why) ─▶ plan (one email per customer, digests)
    ─▶ render (Jinja2, fr/en) ─▶ outbox intent ─▶ send (SMTP / GoCardless) ─▶ confirm ─▶ fct_dunning_action
"""

from __future__ import annotations

from actions.dunning.outbox import AcceptanceChecker, recover
from actions.dunning.run import Channels, RunReport, StaleWarehouse, run_reminders
from actions.dunning.smtp import SmtpSender, SmtpSettings, load_smtp_settings

__all__ = ["AcceptanceChecker", "Channels", "RunReport", "SmtpSender", "SmtpSettings", "StaleWarehouse",
           "load_smtp_settings", "recover", "run_reminders"]
