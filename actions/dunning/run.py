"""One reminder run for one entity: guard → recover → select → plan → render → record intent → send → confirm.

Thin steps over the modules beside it; the Prefect flow and the CLI call these.
``dry_run`` reads only: nothing is recorded, no link is created, nothing is sent.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from actions.dunning import outbox
from actions.dunning.alerts import digest_messages
from actions.dunning.model import Message, Planned
from actions.dunning.plan import customer_messages, message_id, render_message
from actions.dunning.providers import GoCardlessCollector, StripePayLinks
from actions.dunning.rules import plan
from actions.dunning.schema import ensure_dunning_tables
from actions.dunning.select import check_freshness, invoice_facts, principal_events
from actions.dunning.smtp import SmtpSender, build_email, crash_point
from actions.dunning.statement_select import accounts, last_statements
from actions.dunning.statements import Account, on_demand_period, scheduled_period, statement_messages
from lettrage.errors import ConfigurationError, LettrageError, PermanentSourceError, TransientSourceError
from mappings.dunning import DunningRules, load_dunning_rules
from warehouse.engine import Engine

log = logging.getLogger("lettrage.actions.dunning")


class StaleWarehouse(ConfigurationError):
    """The entity's reconciliation is too old to send reminders safely."""


@dataclass
class Channels:
    """The outside world for one entity; any of them may be absent (then that action is left in the outbox)."""

    smtp: SmtpSender | None = None
    paylinks: StripePayLinks | None = None
    gocardless: GoCardlessCollector | None = None
    checker: outbox.AcceptanceChecker | None = None


@dataclass
class RunReport:
    entity: str
    as_of: date
    dry_run: bool
    stale: str | None = None
    planned: list[Planned] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    recorded: int = 0
    sent: int = 0
    failed: int = 0
    recovered: dict[str, int] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """What would be (or was) done, one row per invoice: the dry-run listing."""
        return [{"entity": p.facts.entity, "customer_id": p.facts.customer_id,
                 "customer_name": p.facts.customer_name, "invoice_number": p.facts.invoice_number,
                 "due_date": p.facts.due_date.isoformat(), "amount_open": str(p.facts.amount_open),
                 "currency": p.facts.currency, "action": p.action, "step": p.step, "reason": p.reason}
                for p in self.planned]

    def summary(self) -> dict[str, Any]:
        by_action: dict[str, int] = {}
        for p in self.planned:
            by_action[p.action] = by_action.get(p.action, 0) + 1
        return {"entity": self.entity, "as_of": self.as_of.isoformat(), "dry_run": self.dry_run,
                "stale": self.stale, "invoices": by_action, "messages": len(self.messages),
                "recorded": self.recorded, "sent": self.sent, "failed": self.failed, "recovered": self.recovered}


def plan_run(engine: Engine, entity: str, as_of: date, rules: DunningRules, dry_run: bool) -> tuple[list[Planned], list[Message]]:
    """Select and plan; the messages come back rendered (pay links are added later, at record time)."""
    done = outbox.done_steps(engine, entity) if engine.table_exists("dunning_outbox_item") else {}
    facts = invoice_facts(engine, entity, as_of, rules, done)
    planned = plan(facts, as_of, rules)
    messages = customer_messages(planned, as_of, rules, lambda ids: principal_events(engine, entity, ids))
    messages += collection_messages(planned)
    messages += digest_messages(engine, entity, as_of, rules, planned, done)
    for m in messages:
        if m.channel == "email":
            render_message(m, as_of, rules)
    return planned, messages


def collection_messages(planned: list[Planned]) -> list[Message]:
    out = []
    for p in planned:
        if p.action != "collect":
            continue
        f = p.facts
        keys = [(f.invoice_id, "direct_debit")]
        out.append(Message(
            message_id=message_id(f.entity, "direct_debit", keys), entity=f.entity, customer_id=f.customer_id,
            kind="direct_debit", step="direct_debit", channel="gocardless", language="en", recipients=[],
            subject=f"GoCardless payment of {f.invoice_number}", body=p.reason, currency=f.currency,
            amount_total=f.amount_open, items=keys, reason=p.reason,
            payload={"mandate_id": f.mandate_id, "invoice_number": f.invoice_number, "invoice_id": f.invoice_id}))
    return out


def _history(m: Message, planned: dict[str, Planned], as_of: date) -> list[dict[str, Any]]:
    rows = []
    for object_id, step in m.items:
        p = planned.get(object_id)
        if p is None:
            continue
        rows.append({"entity": m.entity, "invoice_id": object_id, "step": step, "customer_id": p.facts.customer_id,
                     "channel": "task" if p.action == "task" else m.channel, "planned_on": as_of,
                     "reason": p.reason[:500], "amount_open": p.facts.amount_open, "currency": p.facts.currency})
    return rows


def record(engine: Engine, report: RunReport, rules: DunningRules, channels: Channels) -> None:
    """Create pay links (idempotent), render, and record every message as intent."""
    by_invoice = {p.facts.invoice_id: p for p in report.planned}
    for m in report.messages:
        if not m.recipients and m.channel == "email":
            log.warning("no email address for %s/%s: message %s left out", m.entity, m.customer_id, m.message_id)
            continue
        # the link's metadata names what it pays: invoices with something open, never a credit note
        payable = [ln.invoice_number for ln in m.lines if ln.doc_type == "invoice" and ln.amount_open > 0]
        if m.kind in ("reminder", "formal_notice", "statement") and channels.paylinks and m.amount_total > 0 \
                and payable:
            try:
                m.pay_link = channels.paylinks.create(
                    message_id=m.message_id, entity=m.entity, customer_id=m.customer_id,
                    invoice_numbers=payable, amount=m.amount_total, currency=m.currency,
                    description=f"{m.payload.get('customer_name', m.customer_id)}: " + ", ".join(payable))
            except (TransientSourceError, PermanentSourceError) as exc:
                # (the reminder matters more than its link: one Stripe outage must not hold back every message)
                log.warning("no pay-now link for message %s (%s/%s), sent without one: %s", m.message_id, m.entity,
                            m.customer_id, exc)
            else:
                render_message(m, report.as_of, rules)
        if outbox.record_intent(engine, m, report.as_of, _history(m, by_invoice, report.as_of)):
            report.recorded += 1


def deliver(engine: Engine, entity: str, rules: DunningRules, channels: Channels, report: RunReport,
            kinds: tuple[str, ...] | None = None) -> None:
    """Send every message in ``intent`` (of ``kinds``, default all): claim (commit ``sending``) → send → confirm."""
    for row in outbox.pending(engine, entity):
        mid = row["message_id"]
        if kinds is not None and row["kind"] not in kinds:
            continue
        if row["channel"] == "email" and channels.smtp is None:
            continue
        if row["channel"] == "gocardless" and channels.gocardless is None:
            continue
        if not outbox.claim(engine, mid):
            continue
        try:
            if row["channel"] == "email":
                settings = rules.entity(entity)
                email = build_email(message_id=mid, sender=settings.sender,
                                    recipients=[r.strip() for r in row["recipients"].split(",") if r.strip()],
                                    subject=row["subject"], body=row["body"], reply_to=settings.reply_to,
                                    language=row["language"])
                response = channels.smtp.send(email)  # type: ignore[union-attr]
                outcome = "sent"
            else:
                payload = json.loads(row["payload_json"] or "{}")
                response = channels.gocardless.collect(  # type: ignore[union-attr]
                    entity=entity, invoice_id=payload["invoice_id"], invoice_number=payload["invoice_number"],
                    customer_id=row["customer_id"], mandate_id=payload["mandate_id"],
                    amount=Decimal(row["amount_total"]), currency=row["currency"])
                outcome = "collection_requested"
        except TransientSourceError as exc:
            outbox.mark(engine, mid, "intent", f"not sent, will retry: {exc}")
            report.failed += 1
            continue
        except PermanentSourceError as exc:
            outbox.mark(engine, mid, "failed", str(exc))
            report.failed += 1
            continue
        except Exception as exc:  # unknown whether it left: a person decides, never a blind resend
            outbox.mark(engine, mid, "review", f"error while sending, acceptance unknown: {exc}")
            report.failed += 1
            continue
        crash_point("before_confirm")
        outbox.mark_sent(engine, mid, response, outcome)
        report.sent += 1


def refresh_outcomes(engine: Engine, entity: str) -> None:
    """Payments, disputes and promises after a reminder land in fct_dunning_action (the marts read it)."""
    engine.execute(
        "UPDATE fct_dunning_action SET outcome = 'paid_after', _loaded_at = :at, paid_on = coalesce(("
        "SELECT max(p.paid_on) FROM fct_match AS m JOIN fct_payment AS p ON p.entity = m.entity "
        "AND p.payment_id = m.payment_id WHERE m.entity = fct_dunning_action.entity "
        "AND m.invoice_id = fct_dunning_action.invoice_id AND m.state IN ('auto', 'confirmed')), CAST(:today AS DATE)) "
        "WHERE entity = :entity AND outcome IN ('sent', 'collection_requested') AND EXISTS (SELECT 1 FROM fct_invoice AS i "
        "WHERE i.entity = fct_dunning_action.entity AND i.invoice_id = fct_dunning_action.invoice_id "
        "AND i.status IN ('paid', 'credited'))",
        {"entity": entity, "at": datetime.now(UTC), "today": datetime.now(UTC).date()})
    engine.execute(
        "UPDATE fct_dunning_action SET outcome = 'disputed_after', _loaded_at = :at WHERE entity = :entity "
        "AND outcome = 'sent' AND EXISTS (SELECT 1 FROM fct_invoice AS i WHERE i.entity = fct_dunning_action.entity "
        "AND i.invoice_id = fct_dunning_action.invoice_id AND (i.status = 'disputed' OR i.disputed))",
        {"entity": entity, "at": datetime.now(UTC)})


def _guard_and_recover(engine: Engine, entity: str, now: datetime, rules: DunningRules, channels: Channels,
                       report: RunReport) -> bool:
    """What every run does before it plans: a stale warehouse refuses the run or turns it dry (as
    ``mappings/dunning.yaml`` says), and a run that will send first recovers the outbox items an
    earlier run left between send and record. Returns whether the run is dry."""
    report.stale = check_freshness(engine, entity, now, rules)
    if report.stale and not report.dry_run:
        if rules.freshness.on_stale == "refuse":
            raise StaleWarehouse(report.stale)
        log.warning("%s; running dry", report.stale)
        report.dry_run = True
    if not report.dry_run:
        ensure_dunning_tables(engine)
        report.recovered = outbox.recover(engine, entity, channels.checker)
    return report.dry_run


def run_reminders(
    engine: Engine, entity: str, *, as_of: date, now: datetime | None = None, dry_run: bool = False,
    channels: Channels | None = None, rules: DunningRules | None = None,
) -> RunReport:
    """The whole run for one entity (see the module docstring)."""
    rules = rules or load_dunning_rules()
    now = now or datetime.now(UTC)
    channels = channels or Channels()
    report = RunReport(entity, as_of, dry_run)
    dry_run = _guard_and_recover(engine, entity, now, rules, channels, report)
    report.planned, report.messages = plan_run(engine, entity, as_of, rules, dry_run)
    log.info("%s: %d invoices considered, %d messages planned%s", entity, len(report.planned),
             len(report.messages), " (dry run)" if dry_run else "")
    if dry_run:
        return report
    run_id = uuid.uuid4().hex
    engine.execute("INSERT INTO dunning_run (run_id, entity, as_of, started_at) VALUES (:id, :entity, :as_of, :at)",
                   {"id": run_id, "entity": entity, "as_of": as_of, "at": now})
    record(engine, report, rules, channels)
    deliver(engine, entity, rules, channels, report)
    refresh_outcomes(engine, entity)
    engine.execute("UPDATE dunning_run SET finished_at = :at, summary_json = :s WHERE run_id = :id",
                   {"at": datetime.now(UTC), "s": json.dumps(report.summary(), default=str), "id": run_id})
    return report


@dataclass
class StatementReport(RunReport):
    """A statements run: one row per customer considered (statement or skip, with the reason)."""

    period: str | None = None
    skipped: list[tuple[Account, str]] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for m in self.messages:
            balances: list[dict[str, Any]] = m.payload.get("balances") or []  # type: ignore[assignment]
            movements: list[Any] = m.payload.get("movements") or []  # type: ignore[assignment]
            out.append({"entity": m.entity, "customer_id": m.customer_id,
                        "customer_name": m.payload.get("customer_name"), "period": self.period,
                        "action": "statement", "recipients": ", ".join(m.recipients),
                        "balance": "; ".join(f"{b['amount']} {b['currency']}" for b in balances),
                        "open_items": len(m.lines), "movements": len(movements), "reason": m.reason})
        for acc, reason in self.skipped:
            out.append({"entity": acc.entity, "customer_id": acc.customer_id, "customer_name": acc.name,
                        "period": self.period, "action": "skip", "recipients": acc.email or "", "balance": "",
                        "open_items": len(acc.open_items), "movements": len(acc.movements), "reason": reason})
        return out

    def summary(self) -> dict[str, Any]:
        return {"entity": self.entity, "as_of": self.as_of.isoformat(), "period": self.period,
                "dry_run": self.dry_run, "stale": self.stale, "statements": len(self.messages),
                "skipped": len(self.skipped), "recorded": self.recorded, "sent": self.sent, "failed": self.failed,
                "recovered": self.recovered}


def run_statements(
    engine: Engine, entity: str, *, as_of: date, now: datetime | None = None, dry_run: bool = False,
    channels: Channels | None = None, rules: DunningRules | None = None, customers: list[str] | None = None,
) -> StatementReport:
    """Statements of account for one entity: scheduled (monthly) or, with ``customers``, on demand.

    Same guard, outbox and delivery as the reminders; only messages of kind
    ``statement`` are delivered here. Nothing is due outside the schedule window
    unless customers are named (then the period is the day).
    """
    rules = rules or load_dunning_rules()
    now = now or datetime.now(UTC)
    channels = channels or Channels()
    settings = rules.entity(entity)
    if customers:
        period: str | None = on_demand_period(as_of)
    elif rules.statements.enabled:
        period = scheduled_period(as_of, settings.statement_day, rules.statements.catch_up_days)
    else:
        period = None
    report = StatementReport(entity, as_of, dry_run, period=period)
    if period is None:
        log.info("%s: no statement due on %s (statement_day %d)", entity, as_of, settings.statement_day)
        return report
    dry_run = _guard_and_recover(engine, entity, now, rules, channels, report)
    lookback = rules.statements.first_lookback_days
    window_start = min([as_of - timedelta(days=lookback), *last_statements(engine, entity).values()])
    found = accounts(engine, entity, as_of, window_start, customers)
    done = outbox.done_steps(engine, entity) if engine.table_exists("dunning_outbox_item") else {}
    step = f"statement:{period}"
    fresh = [a for a in found if step not in done.get(f"customer:{a.customer_id}", set())]
    report.skipped = [(a, f"statement {period} already recorded") for a in found
                      if step in done.get(f"customer:{a.customer_id}", set())]
    report.messages, skipped = statement_messages(fresh, period, as_of, rules)
    report.skipped += skipped
    for m in report.messages:
        render_message(m, as_of, rules)
    log.info("%s: %d statements for %s, %d customers skipped%s", entity, len(report.messages), period,
             len(report.skipped), " (dry run)" if dry_run else "")
    if dry_run:
        return report
    record(engine, report, rules, channels)
    deliver(engine, entity, rules, channels, report, kinds=("statement",))
    return report


__all__ = ["Channels", "LettrageError", "RunReport", "StaleWarehouse", "deliver", "plan_run", "record",
           "refresh_outcomes", "run_reminders", "run_statements", "StatementReport"]
