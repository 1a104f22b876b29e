"""The whole story of one invoice, in order: what ``lettrage audit invoice`` shows.

An invoice's history is spread over the tables that each own a part of it: the
ERP lines it came from (``int_invoices``), the payments applied to it and why
(``fct_match``), the exceptions it raised, people's decisions (the append-only
``decision`` table: who, when, before/after), reminders (``fct_dunning_action``
and the dunning outbox) and factoring (``fct_factoring_assignment``). This module
only reads; a table that does not exist, or that the current role may not read,
is left out rather than failing, so the same view serves a reader (no raw or
intermediate tables) and an admin.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from lettrage.errors import DataError
from lettrage.logging import mask_text
from warehouse.engine import Engine

# Tie-break for events of the same instant: the order a person would tell the story in.
KIND_ORDER = ("issued", "erp_line", "due", "payment", "match", "exception_opened", "decision", "reminder",
              "outbox", "factoring", "exception_resolved", "status")


@dataclass(frozen=True)
class Event:
    """One thing that happened to the invoice; ``table`` and ``source_*`` say where it is recorded."""

    at: datetime
    kind: str
    summary: str
    table: str
    source_system: str | None = None
    source_id: str | None = None
    actor: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def sort_key(self) -> tuple[datetime, int]:
        return self.at, KIND_ORDER.index(self.kind) if self.kind in KIND_ORDER else len(KIND_ORDER)


def _instant(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _money(amount: Any, currency: Any) -> str:
    if amount is None:
        return "-"
    return f"{Decimal(amount):,.2f} {currency or ''}".strip()


def _readable(engine: Engine, table: str, *needed: str) -> bool:
    cols = engine.columns(table)
    return bool(cols) and all(c in cols for c in needed)


def _changes(before_json: str | None, after_json: str | None) -> str:
    """``state: suggested -> confirmed`` for the keys a decision changed (or what it added)."""
    try:
        before = json.loads(before_json) if before_json else {}
        after = json.loads(after_json) if after_json else {}
    except ValueError:
        return ""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return ""
    parts = [f"{k}: {before.get(k)} -> {after[k]}" for k in sorted(after) if before.get(k) != after[k]]
    return "; ".join(parts)


def invoice_history(engine: Engine, entity: str, invoice_id: str) -> list[Event]:
    """Every recorded event of one invoice, oldest first. Raises :class:`DataError` for an unknown invoice."""
    key = {"entity": entity, "invoice_id": invoice_id}
    invoices = engine.query_dicts(
        "SELECT * FROM fct_invoice WHERE entity = :entity AND invoice_id = :invoice_id", key
    ) if _readable(engine, "fct_invoice") else []
    if not invoices:
        raise DataError(f"no invoice {invoice_id!r} of entity {entity} in fct_invoice (or not visible to this "
                        "user): check the invoice id (not the printed number) and the entity")
    inv = invoices[0]
    events: list[Event] = []
    doc = "credit note" if inv.get("doc_type") == "credit_note" else "invoice"
    events.append(Event(
        _instant(inv["issue_date"]) or datetime.min.replace(tzinfo=UTC), "issued",
        f"{doc} {inv.get('invoice_number') or invoice_id} issued to {inv.get('customer_id')}: "
        f"{_money(inv.get('amount_total'), inv.get('currency'))}", "fct_invoice",
        inv.get("source_system"), inv.get("source_id")))
    if inv.get("due_date") is not None:
        events.append(Event(_instant(inv["due_date"]), "due", f"due: {_money(inv.get('amount_total'), inv.get('currency'))}",  # type: ignore[arg-type]
                            "fct_invoice"))
    events += _erp_lines(engine, key, inv)
    match_ids: list[str] = []
    decided = _decision_rows(engine, key["entity"])
    events += _matches(engine, key, match_ids, _first_seen(decided))
    events += _exceptions(engine, key)
    events += _decisions(decided, key, match_ids)
    events += _reminders(engine, key)
    events += _factoring(engine, key)
    loaded = _instant(inv.get("_loaded_at"))
    latest = max((e.at for e in events), default=loaded)
    events.append(Event(
        max(loaded, latest) if loaded and latest else (loaded or latest),  # type: ignore[arg-type]
        "status", f"now {inv.get('status')}: {_money(inv.get('amount_open'), inv.get('currency'))} open"
        + (", disputed" if inv.get("disputed") else "") + (", factored" if inv.get("factored") else ""),
        "fct_invoice", detail={"status": inv.get("status"), "amount_open": inv.get("amount_open")}))
    return sorted(events, key=lambda e: e.sort_key)


def _erp_lines(engine: Engine, key: dict[str, str], inv: dict[str, Any]) -> list[Event]:
    if not _readable(engine, "int_invoices", "source_system", "source_id"):
        return []
    rows = engine.query_dicts(
        "SELECT * FROM int_invoices WHERE entity = :entity AND invoice_id = :invoice_id ORDER BY source_id", key)
    return [Event(
        _instant(r.get("issue_date") or inv["issue_date"]), "erp_line",  # type: ignore[arg-type]
        f"ERP line {r.get('source_system')} {r.get('source_id')}: {_money(r.get('amount_total'), r.get('currency'))}"
        + (f", ERP open {_money(r.get('erp_amount_open'), r.get('currency'))}" if r.get("erp_amount_open") is not None else "")
        + (f", lettered {r['erp_lettrage']}" if r.get("erp_lettrage") else ""),
        "int_invoices", r.get("source_system"), r.get("source_id")) for r in rows]


def _decision_rows(engine: Engine, entity: str) -> list[dict[str, Any]]:
    if not _readable(engine, "decision", "actor", "created_at"):
        return []
    return engine.query_dicts("SELECT * FROM decision WHERE entity = :entity ORDER BY created_at, id",
                              {"entity": entity})


def _first_seen(decisions: list[dict[str, Any]]) -> dict[str, datetime]:
    """When each decided match was first proposed, from the decision's ``before`` snapshot.

    A rebuild from scratch recomputes a match and stamps it anew; the decision kept the
    original ``matched_at``, so the story still shows the proposal before the decision.
    """
    seen: dict[str, datetime] = {}
    for d in decisions:
        try:
            before = json.loads(d.get("before_json") or "{}")
            at = _instant(before.get("matched_at")) if isinstance(before, dict) else None
        except (ValueError, TypeError):
            continue
        if d.get("match_id") and at is not None:
            seen[d["match_id"]] = min(at, seen.get(d["match_id"], at))
    return seen


def _matches(engine: Engine, key: dict[str, str], match_ids: list[str],
             first_seen: dict[str, datetime]) -> list[Event]:
    if not _readable(engine, "fct_match"):
        return []
    with_payment = _readable(engine, "fct_payment")
    sql = ("SELECT m.*, p.channel AS p_channel, p.paid_on AS p_paid_on, p.amount AS p_amount, "
           "p.currency AS p_currency, p.source_system AS p_source_system, p.source_id AS p_source_id "
           "FROM fct_match AS m LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id "
           if with_payment else "SELECT m.* FROM fct_match AS m ")
    rows = engine.query_dicts(sql + "WHERE m.entity = :entity AND m.invoice_id = :invoice_id "
                              "ORDER BY m.matched_at, m.match_id", key)
    events: list[Event] = []
    seen: set[str] = set()
    for r in rows:
        match_ids.append(str(r["match_id"]))
        if r.get("p_paid_on") is not None and r["payment_id"] not in seen:
            seen.add(r["payment_id"])
            events.append(Event(
                _instant(r["p_paid_on"]), "payment",  # type: ignore[arg-type]
                f"payment {r['payment_id']} received by {r.get('p_channel')}: "
                f"{_money(r.get('p_amount'), r.get('p_currency'))}",
                "fct_payment", r.get("p_source_system"), r.get("p_source_id")))
        adjustment = (f", adjustment {_money(r['adjustment'], r.get('currency'))} ({r.get('adjustment_reason')})"
                      if r.get("adjustment") not in (None, 0) else "")
        at = _instant(r.get("matched_at") or r.get("p_paid_on")) or datetime.min.replace(tzinfo=UTC)
        events.append(Event(
            min(at, first_seen.get(str(r["match_id"]), at)), "match",
            f"match {r['match_id']} [{r.get('state')}]: {_money(r.get('amount_applied'), r.get('currency'))} of "
            f"payment {r['payment_id']} by rule {r.get('rule')} (confidence {r.get('confidence')})"
            f"{adjustment}" + (f" — {r['explanation']}" if r.get("explanation") else ""),
            "fct_match", detail={"match_id": r["match_id"], "rule": r.get("rule"), "state": r.get("state"),
                                 "explanation": r.get("explanation")}))
    return events


def _exceptions(engine: Engine, key: dict[str, str]) -> list[Event]:
    if not _readable(engine, "fct_reconciliation_exception"):
        return []
    rows = engine.query_dicts("SELECT * FROM fct_reconciliation_exception WHERE entity = :entity "
                              "AND invoice_id = :invoice_id ORDER BY opened_at, exception_id", key)
    events: list[Event] = []
    for r in rows:
        if r.get("opened_at") is not None:
            events.append(Event(_instant(r["opened_at"]), "exception_opened",  # type: ignore[arg-type]
                                f"exception {r['exception_id']} opened: {r.get('kind')} "
                                f"{_money(r.get('amount'), r.get('currency'))} — {r.get('detail') or ''}".rstrip(" —"),
                                "fct_reconciliation_exception", detail={"exception_id": r["exception_id"]}))
        if r.get("resolved_at") is not None:
            events.append(Event(_instant(r["resolved_at"]), "exception_resolved",  # type: ignore[arg-type]
                                f"exception {r['exception_id']} resolved", "fct_reconciliation_exception",
                                detail={"exception_id": r["exception_id"]}))
    return events


def _decisions(rows: list[dict[str, Any]], key: dict[str, str], match_ids: list[str]) -> list[Event]:
    wanted = set(match_ids)
    events = []
    for r in rows:
        if r.get("invoice_id") != key["invoice_id"] and r.get("match_id") not in wanted:
            continue
        change = _changes(r.get("before_json"), r.get("after_json"))
        events.append(Event(
            _instant(r["created_at"]), "decision",  # type: ignore[arg-type]
            f"{r['kind']} by {r['actor']}" + (f" ({r['reason']})" if r.get("reason") else "")
            + (f" on match {r['match_id']}" if r.get("match_id") else "")
            + (f" [{change}]" if change else ""),
            "decision", actor=r["actor"],
            detail={"id": r["id"], "kind": r["kind"], "before": r.get("before_json"), "after": r.get("after_json")}))
    return events


def _reminders(engine: Engine, key: dict[str, str]) -> list[Event]:
    events: list[Event] = []
    if _readable(engine, "fct_dunning_action", "step"):
        rows = engine.query_dicts("SELECT * FROM fct_dunning_action WHERE entity = :entity "
                                  "AND invoice_id = :invoice_id ORDER BY planned_on, step", key)
        for r in rows:
            at = _instant(r.get("sent_at") or r.get("planned_on"))
            if at is None:
                continue
            verb = "sent" if r.get("sent_at") else "planned"
            events.append(Event(at, "reminder", f"reminder {r['step']} {verb} by {r.get('channel')}"
                                + (f": {r['outcome']}" if r.get("outcome") else ""), "fct_dunning_action",
                                detail={"step": r["step"], "message_id": r.get("message_id")}))
    if _readable(engine, "dunning_outbox_item", "object_id") and _readable(engine, "dunning_outbox", "state"):
        rows = engine.query_dicts(
            "SELECT o.message_id, o.step, o.channel, o.state, o.recipients, o.subject, o.created_at, o.sent_at "
            "FROM dunning_outbox_item AS i JOIN dunning_outbox AS o ON o.message_id = i.message_id "
            "WHERE i.entity = :entity AND i.object_id = :invoice_id ORDER BY o.created_at", key)
        for r in rows:
            events.append(Event(
                _instant(r.get("sent_at") or r["created_at"]), "outbox",  # type: ignore[arg-type]
                f"outbox message {r['message_id']} ({r['step']}, {r['channel']}) {r['state']} to "
                f"{mask_text(str(r.get('recipients') or ''))}: {r.get('subject') or ''}",
                "dunning_outbox", detail={"message_id": r["message_id"], "state": r["state"]}))
    return events


def _factoring(engine: Engine, key: dict[str, str]) -> list[Event]:
    if not _readable(engine, "fct_factoring_assignment", "batch_id"):
        return []
    rows = engine.query_dicts("SELECT * FROM fct_factoring_assignment WHERE entity = :entity "
                              "AND invoice_id = :invoice_id ORDER BY assigned_on, batch_id", key)
    return [Event(
        _instant(r.get("assigned_on")) or datetime.min.replace(tzinfo=UTC), "factoring",
        f"assigned to factor {r.get('factor')} in batch {r['batch_id']} [{r.get('status')}]: "
        f"{_money(r.get('amount'), r.get('currency'))}, advance {_money(r.get('advance_amount'), r.get('currency'))}"
        f" at {r.get('advance_rate')}", "fct_factoring_assignment", r.get("source_system"), r.get("source_id"),
        detail={"batch_id": r["batch_id"], "status": r.get("status")}) for r in rows]


def render_history(events: list[Event]) -> list[str]:
    """Plain lines for a terminal or a report; IBANs, emails and registered secrets masked."""
    lines = []
    for e in events:
        where = e.table + (f" {e.source_system}:{e.source_id}" if e.source_system and e.source_id else "")
        lines.append(mask_text(f"{e.at:%Y-%m-%d %H:%M}  {e.kind:<18} {e.summary}  [{where}]"))
    return lines
