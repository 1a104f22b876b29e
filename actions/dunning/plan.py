"""From planned invoices to messages: one email per customer (a formal notice apart), one digest per owner.

Message ids are derived from the outbox keys they cover, so the same plan
always yields the same id (and the same SMTP Message-ID and Stripe idempotency key).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from actions.dunning.model import InvoiceFacts, Line, Message, Planned
from actions.dunning.penalties import penalty
from actions.dunning.render import render
from mappings.dunning import DunningRules

TONE_ORDER = {"friendly": 0, "neutral": 1, "firm": 2, "formal": 3}


def message_id(entity: str, kind: str, keys: Iterable[tuple[str, str]]) -> str:
    digest = hashlib.sha1("|".join([entity, kind, *sorted(f"{o}:{s}" for o, s in keys)]).encode()).hexdigest()
    return f"{entity.lower()}-{kind}-{digest[:20]}"


def line(p: Planned, as_of: date, step: str | None = None) -> Line:
    f = p.facts
    return Line(f.invoice_id, f.invoice_number, f.issue_date, f.due_date, f.days_past_due(as_of), f.amount_total,
                f.amount_open, f.currency, step)


def customer_messages(
    planned: list[Planned], as_of: date, rules: DunningRules,
    payments: Callable[[list[str]], dict[str, list[tuple[date, Decimal]]]] | None = None,
) -> list[Message]:
    """Group the email steps per customer; each message lists every eligible overdue invoice of the customer."""
    # the steps that are letters of their own (a formal notice): an invoice that received one is on that track
    formal_steps = {s.name for sc in rules.scenarios.values() for s in sc.steps if s.separate_message}
    by_customer: dict[tuple[str, str, str], list[Planned]] = defaultdict(list)
    for p in planned:
        by_customer[(p.facts.entity, p.facts.customer_id, p.facts.currency)].append(p)
    out: list[Message] = []
    for (entity, customer, currency), group in sorted(by_customer.items()):
        emails = [p for p in group if p.action == "email"]
        if not emails:
            continue
        context = [p for p in group if p.action in ("email", "task") or p.reason.endswith("already sent")]
        # (an invoice getting a message of its own today, a formal notice, is not listed again in the ordinary
        # reminder of the same day: one courteous and one formal letter about it at once contradict each other)
        on_its_own = {p.facts.invoice_id for p in emails if p.separate_message}
        # (nor in a later one: an invoice a formal notice already claimed is not asked for again in a softer letter,
        # which would undo the notice's tone; the notice stands, and the next formal step follows it)
        on_its_own |= {p.facts.invoice_id for p in context if any(s in formal_steps for s, _ in p.facts.reminders_sent)}
        for separate in (False, True):
            triggers = [p for p in emails if p.separate_message == separate]
            if not triggers:
                continue
            lead = max(triggers, key=lambda p: (TONE_ORDER.get(p.tone or "neutral", 1), p.facts.days_past_due(as_of)))
            listed_ids = {p.facts.invoice_id for p in triggers}
            extra = [p for p in context if p.facts.invoice_id not in listed_ids and p.facts.days_past_due(as_of) >= 0
                     and not separate and p.facts.invoice_id not in on_its_own]
            lines = [line(p, as_of, p.step) for p in triggers] + [line(p, as_of) for p in extra]
            lines.sort(key=lambda ln: (ln.due_date, ln.invoice_number))
            f = lead.facts
            language = rules.languages.for_country(f.country)
            keys = [(p.facts.invoice_id, p.step or "") for p in triggers]
            kind = "formal_notice" if lead.include_penalties else "reminder"
            listed = [p.facts for p in triggers] + [p.facts for p in extra]
            msg = Message(
                message_id=message_id(entity, kind, keys), entity=entity, customer_id=customer, kind=kind,
                step=lead.step or "", channel="email", language=language,
                recipients=[f.email] if f.email else [], currency=currency,
                amount_total=sum((ln.amount_open for ln in lines), Decimal(0)), items=keys, lines=lines,
                reason="; ".join(f"{p.facts.invoice_number}: {p.reason}" for p in triggers),
                payload={"template": lead.template, "customer_name": f.customer_name or customer,
                         "scenario": lead.scenario, "previous": previous_reminders(listed)},
            )
            if lead.include_penalties:
                add_penalties(msg, as_of, rules, payments)
            out.append(msg)
    return out


def previous_reminders(facts: Iterable[InvoiceFacts]) -> list[date]:
    """Days on which an earlier reminder about any listed invoice actually left (history, not intent).

    The templates word "despite our reminder(s) of …" only from this list, so an
    invoice that reaches a firm step without any earlier email is not told otherwise.
    """
    return sorted({day for f in facts for _, day in f.reminders_sent})


def add_penalties(msg: Message, as_of: date, rules: DunningRules,
                  payments: Callable[[list[str]], dict[str, list[tuple[date, Decimal]]]] | None) -> None:
    """Interest and fixed indemnity per listed invoice, when the entity's settings name penalty rules."""
    name = rules.entity(msg.entity).penalties
    if name is None:
        return
    pr = rules.penalties[name]
    events = payments([ln.invoice_id for ln in msg.lines]) if payments else {}
    lines = []
    for ln in msg.lines:
        paid = events.get(ln.invoice_id, [])
        principal = ln.amount_open + sum((a for _, a in paid), Decimal(0))
        pen = penalty(principal, ln.due_date, as_of, pr, paid, ln.currency)
        lines.append(Line(**{**{k: getattr(ln, k) for k in ln.__dataclass_fields__},
                             "interest": pen.interest, "indemnity": pen.indemnity}))
    msg.lines = lines
    # Interest runs in the invoices' currency, the fixed indemnity in its own (EUR 40 under French law): each total in
    # its currency, never added across (a GBP notice had claimed "GBP 53.98" for GBP 13.98 of interest and EUR 40.00)
    interest = sum((ln.interest or Decimal(0) for ln in lines), Decimal(0))
    indemnity = sum((ln.indemnity or Decimal(0) for ln in lines), Decimal(0))
    same = pr.indemnity_currency.upper() == msg.currency.upper()
    msg.payload.update({
        "margin_points": str(pr.margin_points), "indemnity_unit": pr.fixed_indemnity,
        "indemnity_currency": pr.indemnity_currency,
        "penalties_total": interest + indemnity if same else interest,
        "indemnity_total": Decimal(0) if same else indemnity,
    })


def render_message(msg: Message, as_of: date, rules: DunningRules) -> None:
    """Fill subject and body from the message's template (pay link already set, or None)."""
    settings = rules.entity(msg.entity)
    context: dict[str, Any] = {
        "customer_name": msg.payload.get("customer_name", msg.customer_id), "lines": msg.lines,
        "total": msg.amount_total, "currency": msg.currency, "pay_link": msg.pay_link, "as_of": as_of,
        "signature": settings.signature, "entity": msg.entity, "previous": [],
        **{k: v for k, v in msg.payload.items() if k not in ("customer_name", "template")},
    }
    msg.subject, msg.body = render(str(msg.payload["template"]), msg.language, **context)
