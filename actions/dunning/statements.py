"""Statements of account (relevés de compte): who gets one, for which period, and what it says.

Pure logic over :class:`Account` facts (gathered by :mod:`actions.dunning.statement_select`):

- **when**: monthly, on the entity's ``statement_day`` (a run up to ``catch_up_days``
  later still sends a missed month), or on demand for named customers (period = that day);
- **who**: every customer with open items, or with payments or credits since its last
  statement; nobody without an email address (listed as skipped, with the reason);
- **what**: open items (invoices and unapplied credit notes, disputed ones marked,
  factored ones left out: the factor collects them), payments and credits since the
  last statement, the balance per currency, an early-payment discount still
  available with its deadline (``early_payment_discount`` of the entity in
  ``mappings/dunning.yaml``), and the pay-now link (added at record time);
- **once**: the outbox key is (entity, ``customer:<id>``, ``statement:<period>``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from actions.dunning.model import Discount, Line, Message
from actions.dunning.plan import message_id
from lettrage.money import quantize
from mappings.dunning import DunningRules, EarlyPaymentDiscount

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Movement:
    """One payment received or credit note issued since the last statement."""

    on: date
    kind: str                 # payment | credit_note | refund (a credit note paid back to the customer)
    reference: str            # payment id or credit-note number (a refund: the credit note's)
    amount: Decimal           # positive: what reduced the customer's balance (a refund: what was paid back)
    currency: str
    channel: str | None = None
    applied_to: tuple[str, ...] = ()   # invoice numbers (empty: received, not yet applied)


@dataclass(frozen=True, slots=True)
class OpenItem:
    invoice_id: str
    invoice_number: str
    doc_type: str
    issue_date: date | None
    due_date: date
    currency: str
    amount_total: Decimal
    amount_open: Decimal
    disputed: bool = False


@dataclass
class Account:
    """One customer of one entity as a statement sees it."""

    entity: str
    customer_id: str
    name: str | None = None
    email: str | None = None
    country: str | None = None
    last_statement: date | None = None
    open_items: list[OpenItem] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)


def scheduled_period(as_of: date, statement_day: int, catch_up_days: int) -> str | None:
    """``YYYY-MM`` when ``as_of`` falls on the statement day or within the catch-up days after it."""
    start = as_of.replace(day=statement_day)
    return f"{start:%Y-%m}" if start <= as_of <= start + timedelta(days=catch_up_days) else None


def on_demand_period(as_of: date) -> str:
    return as_of.isoformat()


def since(account: Account, as_of: date, first_lookback_days: int) -> date:
    """Movements are listed after this day: the last statement sent, else a lookback."""
    return account.last_statement or as_of - timedelta(days=first_lookback_days)


def discount_for(item: OpenItem, as_of: date, terms: EarlyPaymentDiscount | None) -> Discount | None:
    """The early-payment discount still available on an untouched, undisputed invoice, or None.

    Why only untouched: a discount applies to paying the whole invoice early; once a
    part is paid or credited, the terms no longer hold as printed.
    """
    if terms is None or item.doc_type != "invoice" or item.disputed or item.issue_date is None:
        return None
    if item.amount_open <= 0 or item.amount_open != item.amount_total:
        return None
    deadline = item.issue_date + timedelta(days=terms.within_days)
    if deadline < as_of:
        return None
    return Discount(rate_pct=(terms.rate * HUNDRED).normalize(), amount=quantize(item.amount_open * terms.rate,
                                                                                 item.currency), deadline=deadline)


def _line(item: OpenItem, as_of: date, terms: EarlyPaymentDiscount | None) -> Line:
    return Line(item.invoice_id, item.invoice_number, item.issue_date, item.due_date,
                (as_of - item.due_date).days, item.amount_total, item.amount_open, item.currency,
                step=None, doc_type=item.doc_type, disputed=item.disputed,
                discount=discount_for(item, as_of, terms))


def statement_messages(accounts: list[Account], period: str, as_of: date, rules: DunningRules,
                       first_lookback_days: int | None = None) -> tuple[list[Message], list[tuple[Account, str]]]:
    """One statement per selected customer, and the customers left out with the reason."""
    lookback = first_lookback_days if first_lookback_days is not None else rules.statements.first_lookback_days
    messages: list[Message] = []
    skipped: list[tuple[Account, str]] = []
    step = f"statement:{period}"
    for acc in sorted(accounts, key=lambda a: a.customer_id):
        start = since(acc, as_of, lookback)
        moves = sorted((m for m in acc.movements if start < m.on <= as_of), key=lambda m: (m.on, m.reference))
        if not acc.open_items and not moves:
            skipped.append((acc, f"nothing open and no movement since {start.isoformat()}"))
            continue
        if not acc.email:
            skipped.append((acc, "no email address in dim_customer"))
            continue
        terms = rules.entity(acc.entity).early_payment_discount
        lines = sorted((_line(i, as_of, terms) for i in acc.open_items), key=lambda ln: (ln.due_date, ln.invoice_number))
        balances: dict[str, Decimal] = defaultdict(Decimal)
        for ln in lines:
            balances[ln.currency] += ln.amount_open
        currencies = sorted(balances) or sorted({m.currency for m in moves})
        single = len(currencies) == 1
        currency = currencies[0]
        keys = [(f"customer:{acc.customer_id}", step)]
        messages.append(Message(
            message_id=message_id(acc.entity, "statement", keys), entity=acc.entity, customer_id=acc.customer_id,
            kind="statement", step=step, channel="email", language=rules.languages.for_country(acc.country),
            recipients=[acc.email], currency=currency,
            amount_total=balances[currency] if single else Decimal(0),  # a pay link needs one currency
            items=keys, lines=lines,
            reason=f"statement {period}: {len(lines)} open item(s), {len(moves)} movement(s) since {start.isoformat()}",
            payload={"template": "statement", "customer_name": acc.name or acc.customer_id, "since": start,
                     "period": period, "movements": moves,
                     "balances": [{"currency": c, "amount": balances[c]} for c in currencies],
                     "discounts": [ln for ln in lines if ln.discount is not None]},
        ))
    return messages, skipped
