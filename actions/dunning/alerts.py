"""Internal alerts: one daily digest per account owner, not one email per event.

Disputed invoices (ERP flag, status, or a ``dispute`` decision) appear in no
section: a dispute is already in a person's hands.

It tells the owner (``dim_customer.account_owner`` → mailbox in ``mappings/dunning.yaml``)
which customers above the alert threshold became overdue, which promises to pay
were broken, which direct debits failed since the last run, and the tasks of
the day (phone calls, agency/factoring reviews).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from actions.dunning.model import Message, Planned
from actions.dunning.plan import message_id
from mappings.dunning import DunningRules
from warehouse.engine import Engine


def _since(engine: Engine, entity: str, as_of: date) -> date:
    """The day of the last digest before ``as_of``: what happened after it is news. Before the first digest of an
    entity everything is: a customer already overdue above the threshold on the first run is alerted then, not
    only once another of its invoices falls due (as were the broken promises and failed debits still open)."""
    if engine.table_exists("dunning_run"):
        rows = engine.query("SELECT max(as_of) FROM dunning_run WHERE entity = :e AND as_of < :d",
                            {"e": entity, "d": as_of})
        if rows and rows[0][0] is not None:
            return rows[0][0]  # type: ignore[no-any-return]
    return date.min


def _failed_debits(engine: Engine, entity: str, since: date) -> list[dict[str, Any]]:
    if not engine.table_exists("fct_reconciliation_exception"):
        return []
    return engine.query_dicts(
        "SELECT x.payment_id, x.amount, x.currency, x.detail, p.customer_id, c.name AS customer_name, c.account_owner "
        "FROM fct_reconciliation_exception AS x LEFT JOIN fct_payment AS p ON p.entity = x.entity "
        "AND p.payment_id = x.payment_id LEFT JOIN dim_customer AS c ON c.entity = x.entity "
        "AND c.customer_id = p.customer_id WHERE x.entity = :entity AND x.kind = 'failed_debit' "
        "AND x.resolved_at IS NULL AND CAST(x.opened_at AS DATE) >= :since ORDER BY x.payment_id",
        {"entity": entity, "since": since})


def digest_messages(engine: Engine, entity: str, as_of: date, rules: DunningRules, planned: list[Planned],
                    done: dict[str, set[str]]) -> list[Message]:
    since = _since(engine, entity, as_of)
    owners: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    overdue_by_customer: dict[tuple[str, str], list[Planned]] = defaultdict(list)
    for p in planned:
        f = p.facts
        if f.is_disputed:  # a dispute (flag, status or decision) is handled by people, not alerted on
            continue
        owner = f.account_owner or "(no owner)"
        if f.days_past_due(as_of) > 0 and not f.factored:
            overdue_by_customer[(owner, f.customer_id)].append(p)
        if f.promise_until is not None and since <= f.promise_until < as_of and f.amount_open > 0:
            owners[owner]["broken"].append({"customer_id": f.customer_id, "customer_name": f.customer_name,
                                            "invoice_number": f.invoice_number, "promised_on": f.promise_until,
                                            "amount": f.amount_open, "currency": f.currency})
        if p.action == "task":
            owners[owner]["tasks"].append({"step": p.step, "customer_id": f.customer_id,
                                           "customer_name": f.customer_name, "invoice_number": f.invoice_number,
                                           "invoice_id": f.invoice_id, "amount": f.amount_open,
                                           "currency": f.currency, "days_past_due": f.days_past_due(as_of)})
    for (owner, customer), group in overdue_by_customer.items():
        currency = group[0].facts.currency
        total = sum((p.facts.amount_open for p in group), Decimal(0))
        newly = any(since < p.facts.due_date + timedelta(days=1) <= as_of for p in group)
        if newly and total >= rules.thresholds.alert_above(currency):
            owners[owner]["overdue"].append({"customer_id": customer, "customer_name": group[0].facts.customer_name,
                                             "amount": total, "currency": currency})
    for row in _failed_debits(engine, entity, since):
        owners[row["account_owner"] or "(no owner)"]["failed_debits"].append(row)
    settings = rules.entity(entity)
    out = []
    for owner, sections in sorted(owners.items()):
        keys = [(f"owner:{owner}", f"digest:{as_of.isoformat()}")]
        keys += [(t["invoice_id"], t["step"]) for t in sections["tasks"]]
        if f"digest:{as_of.isoformat()}" in done.get(f"owner:{owner}", set()):
            continue
        threshold = rules.thresholds.alert_overdue_above["default"]
        out.append(Message(
            message_id=message_id(entity, "digest", keys[:1]), entity=entity, customer_id=None, kind="digest",
            step="digest", channel="email", language=settings.language,
            recipients=[rules.account_owners.mailbox(owner if owner != "(no owner)" else None)],
            items=keys, reason=f"daily digest for {owner}",
            payload={"template": "digest", "owner": owner, "overdue": sections["overdue"],
                     "broken": sections["broken"], "failed_debits": sections["failed_debits"],
                     "tasks": sections["tasks"], "alert_threshold": str(threshold)}))
    return out
