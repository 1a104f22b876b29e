"""What a person does on the desk, written through the decision log — never around it.

Confirm and reject call :mod:`warehouse.reconcile.decisions`; a dispute is a
``dispute`` decision (department in ``after_json``); a promise to pay goes
through :func:`actions.dunning.record_promise_to_pay`. Comments are the desk's
own append-only table. After a decision the entity's reconciliation runs again
(incremental: only the payments a decision touched and the unresolved ones) and
the marts are refreshed, so the invoice's state and the encours change at once.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Field, SQLModel

from actions.dunning import record_promise_to_pay
from desk.users import DEPARTMENTS
from lettrage.errors import DataError
from warehouse.contract import TEXT, TS
from warehouse.engine import Engine
from warehouse.locks import named_lock
from warehouse.reconcile.decisions import (
    Decision,
    confirm_match,
    confirmed_by_people,
    learn_aliases,
    open_dispute_sql,
    payment_decisions,
    record_decision,
    reject_match,
)
from warehouse.schema import ensure_table

log = logging.getLogger("lettrage.desk")


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
    # one decision does not change a customer's history enough to refit the late-payment model (20 s at
    # 1M invoices); the forecast reads the stored predictions of the open invoices, which stay right
    refresh_marts(engine, as_of=as_of, predict=False)
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


def invoice_by_reference(engine: Engine, entity: str, reference: str) -> dict[str, Any]:
    """The one invoice of ``entity`` a person names by its id or its number (invoice_id, amount_open), or a
    :class:`DataError` saying there is none or several."""
    rows = engine.query_dicts("SELECT invoice_id, amount_open FROM fct_invoice WHERE entity = :e "
                              "AND (invoice_id = :r OR invoice_number = :r)", {"e": entity, "r": reference.strip()})
    if len(rows) != 1:
        raise DataError(f"{'no' if not rows else 'more than one'} invoice {reference!r} in {entity}")
    return rows[0]


def _open_invoice(engine: Engine, entity: str, invoice_id: str) -> dict[str, Any]:
    rows = engine.query_dicts("SELECT invoice_id, customer_id, status, amount_open, currency FROM fct_invoice "
                              "WHERE entity = :e AND invoice_id = :i", {"e": entity, "i": invoice_id})
    if not rows:
        raise DataError(f"no invoice {invoice_id!r} in {entity}")
    return rows[0]


def dispute(engine: Engine, entity: str, invoice_id: str, *, reason: str, department: str, actor: str,
            assignee: str | None = None) -> Decision:
    """Record a dispute assigned to a department (and optionally a person of the desk); reminders stop,
    the invoice shows as disputed and the dispute appears in the assignee's queue (:func:`assigned_to`)."""
    if department not in DEPARTMENTS:
        raise DataError(f"unknown department {department!r}; expected one of {', '.join(DEPARTMENTS)}")
    if not reason.strip():
        raise DataError("a dispute needs a reason")
    assignee = (assignee or "").strip().lower() or None
    if assignee:
        from desk.users import get_principal

        who = get_principal(engine, assignee)
        if who is None or not who.sees(entity):
            raise DataError(f"no active desk user {assignee!r} with {entity} in scope to assign the dispute to")
    inv = _open_invoice(engine, entity, invoice_id)
    return record_decision(engine, entity=entity, kind="dispute", actor=actor, reason=reason.strip(),
                           invoice_id=invoice_id, amount=inv["amount_open"], before=inv,
                           after={"disputed": True, "department": department, "assignee": assignee})


def resolve_dispute(engine: Engine, entity: str, invoice_id: str, *, resolution: str, actor: str) -> Decision:
    """Close an invoice's open dispute: a later ``dispute`` decision saying ``"disputed": false`` (the history keeps
    both, the latest wins: ``warehouse.reconcile.decisions.open_dispute_sql``). Reminders and factoring take the
    invoice again at once, as their next steps and rules say (``decisions.disputed_now_sql``); ``fct_invoice`` shows it
    disputed until the next reconcile."""
    if not resolution.strip():
        raise DataError("closing a dispute needs what settled it (a credit note issued, the customer withdrew...)")
    rows = engine.query("SELECT 1 FROM decision AS i WHERE i.entity = :entity AND i.invoice_id = :invoice_id "
                        f"AND {open_dispute_sql('i')} LIMIT 1", {"entity": entity, "invoice_id": invoice_id}) \
        if engine.table_exists("decision") else []
    if not rows:
        raise DataError(f"invoice {invoice_id} of {entity} has no open dispute to close")
    inv = _open_invoice(engine, entity, invoice_id)
    return record_decision(engine, entity=entity, kind="dispute", actor=actor, reason=resolution.strip(),
                           invoice_id=invoice_id, amount=inv["amount_open"], before=inv,
                           after={"disputed": False, "resolution": resolution.strip()})


def assigned_to(engine: Engine, scope: Sequence[str], *, username: str, department: str | None,
                limit: int = 300) -> list[dict[str, Any]]:
    """Open disputes of ``scope`` whose latest assignment names this person or this person's department.

    "Open": the invoice still shows as disputed and has something open. The assignment is the latest
    ``dispute`` decision of the invoice (a re-assignment is a new decision).
    """
    if not scope or not engine.table_exists("decision"):
        return []
    marks = ", ".join(f":s{n}" for n in range(len(scope)))
    rows = engine.query_dicts(
        "SELECT d.entity, d.invoice_id, d.actor, d.reason, d.created_at, d.after_json, d.amount, i.invoice_number, "
        "i.customer_id, i.currency, i.amount_open FROM decision AS d JOIN fct_invoice AS i ON i.entity = d.entity "
        "AND i.invoice_id = d.invoice_id WHERE d.kind = 'dispute' AND d.entity IN (" + marks + ") "
        "AND (coalesce(i.disputed, FALSE) OR i.status = 'disputed') AND i.amount_open <> 0 "
        "ORDER BY d.created_at, d.id", {f"s{n}": e for n, e in enumerate(scope)})
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:  # oldest first: the last one per invoice wins
        after = json.loads(r.pop("after_json") or "{}")
        latest[(r["entity"], r["invoice_id"])] = {**r, "department": after.get("department"),
                                                  "assignee": after.get("assignee")}
    mine = [r for r in latest.values()
            if r["assignee"] == username or (department and r["department"] == department)]
    return sorted(mine, key=lambda r: str(r["created_at"]))[:limit]


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


# -- work-queue actions beyond confirm/reject -------------------------------------------------------
CENT = Decimal("0.01")


def _amount(value: Decimal, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise DataError(f"{what}: not an amount")
    if value != value.quantize(CENT):
        raise DataError(f"{what}: at most two decimals ({value})")
    if value <= 0:
        raise DataError(f"{what}: must be more than zero ({value})")
    return value.quantize(CENT)


def split_payment(engine: Engine, entity: str, payment_id: str, parts: Sequence[tuple[str, Decimal]], actor: str,
                  reason: str | None = None) -> list[Decision]:
    """Apply one payment to several invoices with the amounts a person entered.

    Written as one ``confirm_match`` decision per invoice (no match id: the reconciler applies it as a
    manual match of exactly that amount) sharing ``after_json.split``; the payment's other suggestions
    are rejected in the same transaction, so the cascade does not propose them again. The amounts must
    not exceed the invoices' open amounts, and together not what the payment has left once its other
    applied matches are counted.
    """
    if not parts:
        raise DataError("a split needs at least one invoice and amount")
    ids = [i for i, _ in parts]
    if len(set(ids)) != len(ids):
        raise DataError("the same invoice appears twice in the split")
    amounts = {i: _amount(a, f"amount for {i}") for i, a in parts}
    pays = engine.query_dicts("SELECT payment_id, amount, currency, customer_id FROM fct_payment "
                              "WHERE entity = :e AND payment_id = :p", {"e": entity, "p": payment_id})
    if not pays:
        raise DataError(f"no payment {payment_id!r} in {entity}")
    pay = pays[0]
    marks = ", ".join(f":i{n}" for n in range(len(ids)))
    params: dict[str, Any] = {"e": entity, "p": payment_id, **{f"i{n}": i for n, i in enumerate(ids)}}
    invoices = {r["invoice_id"]: r for r in engine.query_dicts(
        f"SELECT invoice_id, invoice_number, customer_id, currency, amount_open, doc_type FROM fct_invoice "
        f"WHERE entity = :e AND invoice_id IN ({marks})", {k: v for k, v in params.items() if k != "p"})}
    out: list[Decision] = []
    # (checked and written as one step: a colleague splitting or confirming the same payment at the same moment
    # waits, then sees what this one applied)
    with payment_decisions(engine, entity, payment_id):
        people = confirmed_by_people(engine, entity, payment_id)
        for invoice_id, amount in amounts.items():
            inv = invoices.get(invoice_id)
            if inv is None:
                raise DataError(f"no invoice {invoice_id!r} in {entity}")
            if str(inv["currency"]).upper() != str(pay["currency"]).upper():
                raise DataError(f"invoice {inv['invoice_number'] or invoice_id} is in {inv['currency']}, "
                                f"the payment in {pay['currency']}")
            held = people.get(invoice_id)
            if held is not None and held[0] != amount:
                raise DataError(f"invoice {inv['invoice_number'] or invoice_id} already holds {held[0]} of this payment "
                                f"(confirmed by {held[1]}, decision {held[2]}): reject that match first to change it")
            owed = Decimal(inv["amount_open"] or 0) + (held[0] if held is not None else Decimal(0))
            if amount > owed:
                raise DataError(f"{amount} is more than invoice {inv['invoice_number'] or invoice_id} still owes "
                                f"({inv['amount_open']})")
        applied = engine.query("SELECT coalesce(sum(amount_applied), 0) FROM fct_match WHERE entity = :e "
                               f"AND payment_id = :p AND state IN ('auto', 'confirmed') AND invoice_id NOT IN ({marks})",
                               params)[0][0]
        others = sum((a for i, (a, _, _) in people.items() if i not in amounts), Decimal(0))
        available = Decimal(pay["amount"]) - max(Decimal(applied or 0), others)
        total = sum(amounts.values(), Decimal(0))
        if total > available:
            raise DataError(f"the amounts add up to {total}, more than the payment has to apply ({available} of "
                            f"{pay['amount']} {pay['currency']})")
        group = uuid.uuid4().hex
        rivals = engine.query(f"SELECT match_id FROM fct_match WHERE entity = :e AND payment_id = :p "
                              f"AND state = 'suggested' AND invoice_id NOT IN ({marks})", params)
        for (match_id,) in rivals:
            reject_match(engine, str(match_id), actor, f"payment split across {', '.join(ids)}")
        for n, (invoice_id, amount) in enumerate(amounts.items(), start=1):
            inv = invoices[invoice_id]
            out.append(record_decision(
                engine, entity=entity, kind="confirm_match", actor=actor, reason=reason, payment_id=payment_id,
                invoice_id=invoice_id, amount=amount,
                before={"currency": pay["currency"], "rule": "manual", "amount_open": inv["amount_open"],
                        "explanation": f"split {n}/{len(amounts)} of payment {payment_id}"},
                after={"state": "confirmed", "split": group, "part": n, "parts": len(amounts),
                       "amount_applied": amount}))
    if len({invoices[i]["customer_id"] for i in ids}) == 1:  # one customer: the payer's IBAN and name teach
        learn_aliases(engine, out[0])
    return out


def mark_for_erp(engine: Engine, entity: str, *, actor: str, reason: str, match_id: str | None = None,
                 exception_id: str | None = None, invoice_id: str | None = None,
                 payment_id: str | None = None) -> Decision:
    """Flag that the ERP must be corrected (listed by :func:`erp_queue` and its CSV export)."""
    if not reason.strip():
        raise DataError("say what the ERP must correct")
    before: dict[str, Any] | None = None
    if match_id:
        rows = engine.query_dicts("SELECT * FROM fct_match WHERE entity = :e AND match_id = :m",
                                  {"e": entity, "m": match_id})
        if not rows:
            raise DataError(f"no match {match_id!r} in {entity}")
        before = rows[0]
        payment_id, invoice_id = before["payment_id"], before["invoice_id"]
    elif exception_id:
        rows = engine.query_dicts("SELECT * FROM fct_reconciliation_exception WHERE entity = :e "
                                  "AND exception_id = :x", {"e": entity, "x": exception_id})
        if not rows:
            raise DataError(f"no exception {exception_id!r} in {entity}")
        before = rows[0]
        payment_id, invoice_id = before["payment_id"], before["invoice_id"]
    elif invoice_id:
        before = _open_invoice(engine, entity, invoice_id)
    elif not payment_id:
        raise DataError("mark a match, an exception, an invoice or a payment for the ERP")
    amount = before.get("amount_applied", before.get("amount", before.get("amount_open"))) if before else None
    return record_decision(engine, entity=entity, kind="erp_correction", actor=actor, reason=reason.strip(),
                           match_id=match_id, exception_id=exception_id, invoice_id=invoice_id,
                           payment_id=payment_id, amount=None if amount is None else Decimal(str(amount)),
                           before=before, after={"erp_correction": "requested"})


def erp_queue(engine: Engine, scope: Sequence[str], limit: int = 1000) -> list[dict[str, Any]]:
    """What the accountants must correct in the ERP, newest first (entities of ``scope`` only)."""
    if not scope or not engine.table_exists("decision"):
        return []
    marks = ", ".join(f":s{n}" for n in range(len(scope)))
    return engine.query_dicts(
        "SELECT d.created_at, d.entity, d.actor, d.reason, d.match_id, d.exception_id, d.payment_id, d.invoice_id, "
        "i.invoice_number, d.amount FROM decision AS d LEFT JOIN fct_invoice AS i ON i.entity = d.entity "
        f"AND i.invoice_id = d.invoice_id WHERE d.kind = 'erp_correction' AND d.entity IN ({marks}) "
        f"ORDER BY d.created_at DESC, d.id LIMIT {int(limit)}", {f"s{n}": e for n, e in enumerate(scope)})


def request_write_off(engine: Engine, entity: str, invoice_id: str, *, reason: str, actor: str,
                      amount: Decimal | None = None) -> Decision:
    """Ask for (part of) an invoice to be written off; reminders and factoring hold off until it is settled."""
    if not reason.strip():
        raise DataError("a write-off request needs a reason")
    inv = _open_invoice(engine, entity, invoice_id)
    open_amount = Decimal(inv["amount_open"] or 0)
    if open_amount <= 0:
        raise DataError(f"invoice {invoice_id} has nothing open to write off")
    amount = open_amount if amount is None else _amount(amount, "write-off amount")
    if amount > open_amount:
        raise DataError(f"{amount} is more than the invoice still owes ({open_amount})")
    return record_decision(engine, entity=entity, kind="write_off_request", actor=actor, reason=reason.strip(),
                           invoice_id=invoice_id, amount=amount, before=inv,
                           after={"write_off_requested": str(amount)})


def settle_write_off(engine: Engine, entity: str, invoice_id: str, *, approve: bool, actor: str,
                     reason: str | None = None) -> Decision:
    """An admin approves the pending write-off request of an invoice (a ``write_off`` decision of the amount
    requested: the next reconcile takes it off the open amount, ``written_off`` when nothing is left) or declines
    it (``write_off_declined``: reminders and factoring take the invoice again). Four eyes: the person who asked
    may not settle their own request. The request's amount is capped at what the invoice owes now (a payment may
    have come in since)."""
    from desk.queries import pending_write_off

    with named_lock(engine, f"invoice|{entity}|{invoice_id}"):
        request = pending_write_off(engine, entity, invoice_id)
        if request is None:
            raise DataError(f"invoice {invoice_id} has no write-off request waiting for a decision")
        if request["actor"] == actor:
            raise DataError(f"the write-off of {invoice_id} was requested by {actor}: another person settles it")
        if not approve:
            return record_decision(engine, entity=entity, kind="write_off_declined", actor=actor,
                                   reason=(reason or "").strip() or None, invoice_id=invoice_id,
                                   after={"write_off_declined": request["id"]})
        inv = _open_invoice(engine, entity, invoice_id)
        amount = min(Decimal(request["amount"] or 0), Decimal(inv["amount_open"] or 0))
        if amount <= 0:
            raise DataError(f"invoice {invoice_id} has nothing open to write off any more: decline the request")
        return record_decision(engine, entity=entity, kind="write_off", actor=actor,
                               reason=(reason or "").strip() or None, invoice_id=invoice_id, amount=amount,
                               before=inv, after={"write_off_approved": request["id"], "amount": str(amount)})


def assigned_dispute(engine: Engine, entity: str, invoice_id: str) -> dict[str, Any] | None:
    """The latest dispute of an invoice still disputed: who recorded it, department, assignee (or None)."""
    if not engine.table_exists("decision"):
        return None
    rows = engine.query_dicts(
        "SELECT d.actor, d.reason, d.created_at, d.after_json FROM decision AS d JOIN fct_invoice AS i "
        "ON i.entity = d.entity AND i.invoice_id = d.invoice_id WHERE d.entity = :e AND d.invoice_id = :i "
        "AND d.kind = 'dispute' AND (coalesce(i.disputed, FALSE) OR i.status = 'disputed') "
        "ORDER BY d.created_at DESC, d.id DESC LIMIT 1", {"e": entity, "i": invoice_id})
    if not rows:
        return None
    after = json.loads(rows[0].pop("after_json") or "{}")
    return {**rows[0], "department": after.get("department"), "assignee": after.get("assignee")}


def working_on(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """Add ``who`` to each queue row: the latest person who decided on its payment (or, for an exception
    without a payment, on the exception).

    One query for the page (ids of the shown rows only, index ``desk_decision_payment``), so the queue
    shows who is working on what. Every decision on a match or an exception of a payment names the payment.
    """
    if not rows or not engine.table_exists("decision"):
        return
    pays = sorted({str(r["payment_id"]) for r in rows if r.get("payment_id")})
    excs = sorted({str(r["item_id"]) for r in rows if not r.get("payment_id") and r.get("item_id")})
    entities = sorted({str(r["entity"]) for r in rows})
    params: dict[str, Any] = {f"e{n}": e for n, e in enumerate(entities)}
    params.update({f"p{n}": p for n, p in enumerate(pays)})
    params.update({f"x{n}": x for n, x in enumerate(excs)})
    ors = []
    if pays:
        ors.append(f"payment_id IN ({', '.join(f':p{n}' for n in range(len(pays)))})")
    if excs:
        ors.append(f"exception_id IN ({', '.join(f':x{n}' for n in range(len(excs)))})")
    if not ors:
        return
    latest: dict[tuple[str, str], tuple[str, str, str]] = {}
    for ent, pid, xid, actor, kind, at in engine.query(
            "SELECT entity, payment_id, exception_id, actor, kind, created_at FROM decision "
            f"WHERE entity IN ({', '.join(f':e{n}' for n in range(len(entities)))}) AND ({' OR '.join(ors)})",
            params):
        key = (str(ent), str(pid) if pid else f"x:{xid}")
        if key not in latest or str(at) > latest[key][0]:
            latest[key] = (str(at), str(actor), str(kind))
    for r in rows:
        key = (str(r["entity"]), str(r["payment_id"]) if r.get("payment_id") else f"x:{r.get('item_id')}")
        if key in latest:
            r["who"], r["who_did"] = latest[key][1], latest[key][2]
