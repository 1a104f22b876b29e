"""The value objects that travel between selection, planning, rendering and sending."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class InvoiceFacts:
    """One open invoice and everything the warehouse knows that may stop a reminder."""

    entity: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    due_date: date
    currency: str
    amount_open: Decimal
    amount_total: Decimal = Decimal(0)
    issue_date: date | None = None
    status: str = "open"
    customer_name: str | None = None
    email: str | None = None
    country: str | None = None
    segment: str | None = None
    account_owner: str | None = None
    disputed: bool = False
    factored: bool = False
    dispute_decision: bool = False
    promise_until: date | None = None
    mandate_id: str | None = None
    # the customer's last direct debit the entity collected (bank statements, provider mandates), when not returned since
    direct_debit_on: date | None = None
    # the customer master's payment terms, when they name a direct debit ("Prélèvement SEPA 30 jours")
    direct_debit_terms: str | None = None
    matched_since_sync: bool = False
    in_transit: str | None = None
    write_off_requested: bool = False  # someone asked to write it off (desk): not chased while that is pending
    steps_done: frozenset[str] = field(default_factory=frozenset)
    # email steps that actually left (fct_dunning_action.sent_at), oldest first: what wording may refer to
    reminders_sent: tuple[tuple[str, date], ...] = ()
    # the latest late-payment prediction (mart_invoice_prediction) on or before the run's date, if any
    probability_late: Decimal | None = None
    late_factors: str | None = None

    def days_past_due(self, as_of: date) -> int:
        return (as_of - self.due_date).days

    @property
    def steps_sent(self) -> frozenset[str]:
        return frozenset(step for step, _ in self.reminders_sent)

    @property
    def is_disputed(self) -> bool:
        """Disputed by the ERP flag, the status or a person's decision: nobody chases or alerts on it."""
        return self.disputed or self.status == "disputed" or self.dispute_decision


@dataclass(frozen=True, slots=True)
class Planned:
    """What the run does with one invoice: a step (send/task/collect) or a skip, and why."""

    facts: InvoiceFacts
    action: str            # email | task | collect | skip
    step: str | None
    reason: str
    scenario: str | None = None
    template: str | None = None
    tone: str | None = None
    separate_message: bool = False
    include_penalties: bool = False

    @property
    def sends(self) -> bool:
        return self.action != "skip"


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice as printed in a message."""

    invoice_id: str
    invoice_number: str
    issue_date: date | None
    due_date: date
    days_past_due: int
    amount_total: Decimal
    amount_open: Decimal
    currency: str
    step: str | None = None
    interest: Decimal | None = None
    indemnity: Decimal | None = None
    doc_type: str = "invoice"
    disputed: bool = False
    discount: Discount | None = None


@dataclass(frozen=True, slots=True)
class Discount:
    """An early-payment discount (escompte) still open on one invoice: how much, until when."""

    rate_pct: Decimal
    amount: Decimal
    deadline: date


@dataclass
class Message:
    """One outgoing message (email to a customer or an owner, or a GoCardless payment request)."""

    message_id: str
    entity: str
    customer_id: str | None
    kind: str              # reminder | formal_notice | statement | digest | direct_debit
    step: str
    channel: str           # email | gocardless
    language: str
    recipients: list[str]
    subject: str = ""
    body: str = ""
    currency: str = "EUR"
    amount_total: Decimal = Decimal(0)
    pay_link: str | None = None
    items: list[tuple[str, str]] = field(default_factory=list)  # (object_id, step) keys this message covers
    lines: list[Line] = field(default_factory=list)
    reason: str = ""
    payload: dict[str, object] = field(default_factory=dict)
