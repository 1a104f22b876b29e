"""Exactly once: record intent, then send, then confirm; recover what a crash left in ``sending``.

A message moves ``intent → sending → sent``. ``sending`` is committed before the
outside world is touched, so after a crash we know which messages *may* have
left. On restart :func:`recover` settles each of them:

- GoCardless requests are replayed: the provider's idempotency key (derived from
  entity and invoice) returns the payment already created instead of a second one;
- emails are checked against the mail server's acceptance through an
  :class:`AcceptanceChecker` (e.g. the archive mailbox, searched by the Message-ID
  derived from the outbox key); accepted → ``sent``, proven absent → back to
  ``intent``; without a checker, or when it cannot tell → ``review`` for a person.
  An email is never sent twice by the machine.

The unique key of ``dunning_outbox_item`` (entity, object, step) stops a second
intent for the same step, even from a concurrent run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from actions.dunning.model import Message
from actions.dunning.schema import ensure_dunning_tables
from lettrage.errors import WarehouseError
from warehouse.engine import Engine

log = logging.getLogger("lettrage.actions.dunning")
MESSAGE_ID_DOMAIN = "outbox.lettrage"


class AcceptanceChecker(Protocol):
    """Tells whether the mail server accepted a message: True, False (proven absent) or None (cannot tell)."""

    def accepted(self, message_id_header: str) -> bool | None: ...


def message_id_header(message_id: str) -> str:
    return f"<{message_id}@{MESSAGE_ID_DOMAIN}>"


def now() -> datetime:
    return datetime.now(UTC)


def done_steps(engine: Engine, entity: str) -> dict[str, set[str]]:
    """Steps already recorded (in any state) per object: never planned again."""
    out: dict[str, set[str]] = {}
    for object_id, step in engine.query(
            "SELECT object_id, step FROM dunning_outbox_item WHERE entity = :entity", {"entity": entity}):
        out.setdefault(str(object_id), set()).add(str(step))
    return out


def record_intent(engine: Engine, message: Message, as_of: Any, history: Sequence[dict[str, Any]] = ()) -> bool:
    """Insert the message, its keys and its planned history in one transaction; False if a key exists."""
    keys = [{"entity": message.entity, "object_id": o, "step": s} for o, s in message.items]
    for key in keys:
        if engine.query("SELECT 1 FROM dunning_outbox_item WHERE entity = :entity AND object_id = :object_id "
                        "AND step = :step", key):
            log.info("outbox: %s/%s/%s already recorded, message %s not created",
                     key["entity"], key["object_id"], key["step"], message.message_id)
            return False
    created = now()
    row = {
        "message_id": message.message_id, "entity": message.entity, "customer_id": message.customer_id,
        "kind": message.kind, "step": message.step, "channel": message.channel, "language": message.language,
        "recipients": ", ".join(message.recipients), "subject": message.subject, "body": message.body,
        "currency": message.currency, "amount_total": message.amount_total, "pay_link": message.pay_link,
        "payload_json": json.dumps(message.payload, default=str, sort_keys=True), "state": "intent",
        "attempts": 0, "created_at": created, "as_of": as_of,
    }
    try:
        with engine.transaction():
            engine.execute(
                f"INSERT INTO dunning_outbox ({', '.join(row)}) VALUES ({', '.join(':' + c for c in row)})", row)
            for key in keys:
                engine.execute(
                    "INSERT INTO dunning_outbox_item (entity, object_id, step, message_id, created_at) "
                    "VALUES (:entity, :object_id, :step, :message_id, :created_at)",
                    dict(key, message_id=message.message_id, created_at=created))
            for h in history:
                engine.execute(
                    "DELETE FROM fct_dunning_action WHERE entity = :entity AND invoice_id = :invoice_id "
                    "AND step = :step", {k: h[k] for k in ("entity", "invoice_id", "step")})
                engine.execute(
                    "INSERT INTO fct_dunning_action (entity, invoice_id, step, customer_id, channel, planned_on, "
                    "sent_at, outcome, message_id, reason, amount_open, currency, source_system, source_id, "
                    "_loaded_at) VALUES (:entity, :invoice_id, :step, :customer_id, :channel, :planned_on, NULL, "
                    "'planned', :message_id, :reason, :amount_open, :currency, 'lettrage', :message_id, :loaded_at)",
                    dict(h, message_id=message.message_id, loaded_at=created))
    except WarehouseError as exc:  # a concurrent run recorded the same key first
        if "unique" in str(exc).lower() or "duplicate" in str(exc).lower() or "constraint" in str(exc).lower():
            log.warning("outbox: concurrent intent for message %s, skipped", message.message_id)
            return False
        raise
    return True


def claim(engine: Engine, message_id: str) -> bool:
    """intent → sending, committed before anything leaves; False if someone else claimed it."""
    rows = engine.query(
        "UPDATE dunning_outbox SET state = 'sending', sending_at = :at, attempts = attempts + 1 "
        "WHERE message_id = :id AND state = 'intent' RETURNING message_id", {"id": message_id, "at": now()})
    return bool(rows)


def _set_history(engine: Engine, message_id: str, outcome: str, sent_at: datetime | None) -> None:
    engine.execute(
        "UPDATE fct_dunning_action SET outcome = :outcome, sent_at = :sent_at, _loaded_at = :at "
        "WHERE message_id = :id", {"outcome": outcome, "sent_at": sent_at, "at": now(), "id": message_id})


def mark_sent(engine: Engine, message_id: str, response: str, outcome: str = "sent") -> None:
    at = now()
    with engine.transaction():
        engine.execute("UPDATE dunning_outbox SET state = 'sent', sent_at = :at, server_response = :resp "
                       "WHERE message_id = :id", {"at": at, "resp": response[:500], "id": message_id})
        _set_history(engine, message_id, outcome, at)


def mark(engine: Engine, message_id: str, state: str, detail: str) -> None:
    """review / failed / intent (back to the queue), with the reason."""
    with engine.transaction():
        engine.execute("UPDATE dunning_outbox SET state = :state, detail = :detail WHERE message_id = :id",
                       {"state": state, "detail": detail[:1000], "id": message_id})
        if state in ("review", "failed"):
            _set_history(engine, message_id, state, None)


def pending(engine: Engine, entity: str, state: str = "intent") -> list[dict[str, Any]]:
    return engine.query_dicts(
        "SELECT * FROM dunning_outbox WHERE entity = :entity AND state = :state ORDER BY created_at, message_id",
        {"entity": entity, "state": state})


def recover(engine: Engine, entity: str, checker: AcceptanceChecker | None) -> dict[str, int]:
    """Settle messages a crash left in ``sending`` (see the module docstring)."""
    ensure_dunning_tables(engine)
    counts = {"sent": 0, "requeued": 0, "review": 0}
    for row in pending(engine, entity, "sending"):
        mid = row["message_id"]
        if row["channel"] == "gocardless":
            mark(engine, mid, "intent", "requeued after a crash: the idempotency key prevents a second payment")
            counts["requeued"] += 1
            continue
        verdict = checker.accepted(message_id_header(mid)) if checker is not None else None
        if verdict is True:
            mark_sent(engine, mid, "accepted before the crash (found by Message-ID)")
            counts["sent"] += 1
        elif verdict is False:
            mark(engine, mid, "intent", "requeued after a crash: the mail server never accepted it")
            counts["requeued"] += 1
        else:
            mark(engine, mid, "review", "crashed while sending and acceptance cannot be verified: "
                                        "check the mail server for this Message-ID before resending")
            counts["review"] += 1
    if any(counts.values()):
        log.warning("outbox recovery for %s: %s", entity, counts)
    return counts
