"""What a person does on the desk, written through the decision log — never around it.

Confirm and reject call :mod:`warehouse.reconcile.decisions`; a dispute is a
``dispute`` decision (department in ``after_json``); a promise to pay goes
through :func:`actions.dunning.record_promise_to_pay`. Comments are the desk's
own append-only table. After a decision the entity's reconciliation runs again
(incremental: only the payments a decision touched and the unresolved ones) and
the marts are refreshed, so the invoice's state and the encours change at once.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from actions.dunning import record_promise_to_pay
from lettrage.errors import DataError
from warehouse.contract import TEXT, TS
from warehouse.engine import Engine
from warehouse.reconcile.decisions import Decision, confirm_match, record_decision, reject_match
from warehouse.schema import ensure_table

log = logging.getLogger("lettrage.desk")
DEPARTMENTS = ("sales", "logistics", "billing")


class DeskComment(SQLModel, table=True):
    """A note a person left on an invoice or a customer; append-only."""

    __tablename__ = "desk_comment"

    id: str = Field(primary_key=True)
    entity: str
    customer_id: str | None = None
    invoice_id: str | None = None
    author: str
    body: str
    created_at: datetime


COMMENT_COLUMNS = [(n, TS if n == "created_at" else TEXT) for n in DeskComment.model_fields]


@dataclass(frozen=True)
class Refresh:
    """How long bringing the invoice state and the marts up to date took (shown and logged)."""

    reconcile_s: float
    marts_s: float


def refresh(engine: Engine, entity: str) -> Refresh:
    """Re-run the entity's reconciliation (incremental) and the marts at the warehouse's as-of date."""
    from warehouse.marts import refresh_marts
    from warehouse.reconcile import reconcile

    rows = engine.query("SELECT as_of FROM reconcile_run WHERE entity = :e", {"e": entity})
    as_of = rows[0][0] if rows and rows[0][0] else date.today()
    as_of = as_of if isinstance(as_of, date) else date.fromisoformat(str(as_of))
    t0 = time.perf_counter()
    reconcile(engine, as_of=as_of, entity=entity, incremental=True)
    t1 = time.perf_counter()
    refresh_marts(engine, as_of=as_of)
    t2 = time.perf_counter()
    log.info("desk refresh of %s as of %s: reconcile %.2fs, marts %.2fs", entity, as_of, t1 - t0, t2 - t1)
    return Refresh(t1 - t0, t2 - t1)


def decide_match(engine: Engine, entity: str, match_id: str, verdict: str, actor: str,
                 reason: str | None = None) -> Decision:
    """Confirm or reject one suggested (or auto) match of ``entity``."""
    rows = engine.query("SELECT state FROM fct_match WHERE entity = :e AND match_id = :m", {"e": entity, "m": match_id})
    if not rows:
        raise DataError(f"no match {match_id!r} in {entity}")
    if verdict == "confirm":
        return confirm_match(engine, match_id, actor, reason)
    if verdict == "reject":
        return reject_match(engine, match_id, actor, reason)
    raise DataError(f"unknown verdict {verdict!r}; expected confirm or reject")


def _open_invoice(engine: Engine, entity: str, invoice_id: str) -> dict[str, Any]:
    rows = engine.query_dicts("SELECT invoice_id, customer_id, status, amount_open, currency FROM fct_invoice "
                              "WHERE entity = :e AND invoice_id = :i", {"e": entity, "i": invoice_id})
    if not rows:
        raise DataError(f"no invoice {invoice_id!r} in {entity}")
    return rows[0]


def dispute(engine: Engine, entity: str, invoice_id: str, *, reason: str, department: str, actor: str) -> Decision:
    """Record a dispute assigned to a department; reminders stop and the invoice shows as disputed."""
    if department not in DEPARTMENTS:
        raise DataError(f"unknown department {department!r}; expected one of {', '.join(DEPARTMENTS)}")
    if not reason.strip():
        raise DataError("a dispute needs a reason")
    inv = _open_invoice(engine, entity, invoice_id)
    return record_decision(engine, entity=entity, kind="dispute", actor=actor, reason=reason.strip(),
                           invoice_id=invoice_id, amount=inv["amount_open"], before=inv,
                           after={"disputed": True, "department": department})


def promise(engine: Engine, entity: str, invoice_id: str, *, promised_on: date, actor: str,
            reason: str | None = None, today: date | None = None) -> Decision:
    return record_promise_to_pay(engine, entity, invoice_id, promised_on, actor, reason, today=today)


def comment(engine: Engine, entity: str, *, author: str, body: str, invoice_id: str | None = None,
            customer_id: str | None = None) -> DeskComment:
    body = body.strip()
    if not body:
        raise DataError("an empty comment")
    if len(body) > 4000:
        raise DataError("a comment is limited to 4000 characters")
    ensure_table(engine, "desk_comment", COMMENT_COLUMNS)
    row = DeskComment(id=uuid.uuid4().hex, entity=entity, customer_id=customer_id, invoice_id=invoice_id,
                      author=author, body=body, created_at=datetime.now(UTC))
    data = row.model_dump()
    engine.execute(f"INSERT INTO desk_comment ({', '.join(data)}) VALUES ({', '.join(':' + c for c in data)})", data)
    return row


def comments(engine: Engine, entity: str, *, invoice_id: str | None = None,
             customer_id: str | None = None) -> list[dict[str, Any]]:
    if not engine.table_exists("desk_comment"):
        return []
    col, val = ("invoice_id", invoice_id) if invoice_id else ("customer_id", customer_id)
    return engine.query_dicts(f"SELECT * FROM desk_comment WHERE entity = :e AND {col} = :v ORDER BY created_at DESC",
                              {"e": entity, "v": val})
