"""E-mail notices of the desk (an assignment, a comment) through the dunning outbox — reused, not rewritten.

A notice is a :class:`actions.dunning.model.Message` of kind ``desk_notice``
recorded with :func:`actions.dunning.outbox.record_intent` (intent first, its
key ``desk:<decision or comment id>:<recipient>`` makes it happen once), then
sent by :func:`actions.dunning.run.deliver` limited to that kind (claim →
SMTP → confirm). When the desk has no SMTP settings, or the server is down, the
notice waits in the outbox and the next dunning run's delivery sends it.

Who is told: for an assignment, the assignee, or else every desk user of the
dispute's department with the entity in scope; for a comment on an invoice,
the people of its open dispute (assignee or department) and earlier
commenters. Never the author; only users with an e-mail address.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import date
from typing import Any

from actions.dunning.model import Message
from actions.dunning.plan import message_id
from actions.dunning.smtp import SmtpSettings
from warehouse.engine import Engine

log = logging.getLogger("lettrage.desk")
KIND = "desk_notice"


def recipients(engine: Engine, entity: str, *, usernames: Iterable[str] = (), department: str | None = None,
               exclude: str | None = None) -> list[str]:
    """E-mail addresses of active desk users named, or of ``department``, who see ``entity``."""
    from desk.users import _principal, ensure_user_table

    ensure_user_table(engine)
    names = {u for u in usernames if u}
    out: dict[str, None] = {}
    for r in engine.query_dicts("SELECT * FROM desk_user WHERE active ORDER BY username"):
        p = _principal(r)
        if p.username == exclude or not p.email or not p.sees(entity):
            continue
        if p.username in names or (department and p.department == department):
            out[p.email] = None
    return list(out)


def record(engine: Engine, *, entity: str, key: str, to: list[str], subject: str, body: str,
           as_of: date | None = None) -> list[str]:
    """Record one notice per recipient as intent in the outbox; returns the message ids recorded."""
    from actions.dunning.outbox import record_intent
    from actions.dunning.schema import ensure_dunning_tables

    if to:
        ensure_dunning_tables(engine)
    ids = []
    for address in to:
        items = [(f"desk:{key}:{address}", "notify")]
        msg = Message(message_id=message_id(entity, KIND, items), entity=entity, customer_id=None, kind=KIND,
                      step="notify", channel="email", language="en", recipients=[address], subject=subject,
                      body=body, items=items, payload={"key": key})
        if record_intent(engine, msg, as_of or date.today()):
            ids.append(msg.message_id)
    return ids


def deliver(engine: Engine, entity: str, smtp: SmtpSettings | None) -> int:
    """Send the entity's pending desk notices now (the dunning run's delivery, limited to this kind)."""
    if smtp is None:
        return 0
    from actions.dunning.run import Channels, RunReport
    from actions.dunning.run import deliver as dunning_deliver
    from actions.dunning.smtp import SmtpSender
    from mappings.dunning import load_dunning_rules

    report = RunReport(entity, date.today(), False)
    with SmtpSender(smtp) as sender:
        dunning_deliver(engine, entity, load_dunning_rules(), Channels(smtp=sender), report, kinds=(KIND,))
    if report.failed:
        log.warning("desk: %d notice(s) of %s not sent; they stay in the outbox", report.failed, entity)
    return report.sent


def on_dispute(engine: Engine, decision: Any, invoice: dict[str, Any], base_url: str = "") -> list[str]:
    after = json.loads(decision.after_json or "{}")
    assignee, department = after.get("assignee"), after.get("department")
    to = recipients(engine, decision.entity, usernames=[assignee] if assignee else [],
                    department=None if assignee else department, exclude=decision.actor)
    number = invoice.get("invoice_number") or decision.invoice_id
    who = f"you ({assignee})" if assignee else f"the {department} department"
    body = (f"{decision.actor} recorded a dispute on invoice {number} ({decision.entity}) and assigned it to {who}.\n"
            f"Reason: {decision.reason}\n\n{base_url}/e/{decision.entity}/invoice/{decision.invoice_id}\n")
    return record(engine, entity=decision.entity, key=decision.id, to=to,
                  subject=f"[Lettrage] Dispute on {number} assigned to {assignee or department}", body=body)


def on_comment(engine: Engine, comment: Any, invoice: dict[str, Any], base_url: str = "") -> list[str]:
    from desk.actions import assigned_dispute

    names: set[str] = set()
    department = None
    current = assigned_dispute(engine, comment.entity, comment.invoice_id)
    if current:
        names.add(current.get("assignee") or "")
        department = current.get("department") if not current.get("assignee") else None
    names |= {str(r[0]) for r in engine.query(
        "SELECT DISTINCT author FROM desk_comment WHERE entity = :e AND invoice_id = :i",
        {"e": comment.entity, "i": comment.invoice_id})}
    to = recipients(engine, comment.entity, usernames=names, department=department, exclude=comment.author)
    number = invoice.get("invoice_number") or comment.invoice_id
    body = (f"{comment.author} commented on invoice {number} ({comment.entity}):\n\n{comment.body}\n\n"
            f"{base_url}/e/{comment.entity}/invoice/{comment.invoice_id}\n")
    return record(engine, entity=comment.entity, key=comment.id, to=to,
                  subject=f"[Lettrage] Comment on {number}", body=body)
