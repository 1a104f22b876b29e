"""Which open invoices a factor contract accepts, and why the others are left out.

The warehouse gathers the facts of every open invoice in one set-based query
(:mod:`actions.factoring.selection`); the contract's rules are applied here, as
one pure function per invoice (first failing rule wins, so every refusal has
exactly one reason a person can act on) and one pass over the batch for the
concentration limit, which depends on the whole book.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from mappings.factoring import FactorContract

ZERO = Decimal("0")

# Every reason a candidate can be refused, in the order the rules are tested.
REASONS: tuple[str, ...] = (
    "not_open", "currency", "entity", "intra_group", "customer_excluded", "customer_not_listed", "country",
    "not_targeted", "segment", "score", "unscored", "already_assigned", "write_off_requested", "money_in_transit",
    "disputed", "credit_noted",
    "partially_paid", "too_old", "overdue_too_long", "amount_below_min", "amount_above_max", "concentration",
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """The facts of one open invoice the rules need (one row of the selection query)."""

    entity: str
    invoice_id: str
    invoice_number: str
    customer_id: str
    customer_name: str | None
    vat_id: str | None
    siren: str | None
    country: str | None
    payment_terms_days: int | None
    segment: str | None
    score: Decimal | None
    issue_date: date
    due_date: date
    currency: str
    amount_total: Decimal
    amount_open: Decimal
    disputed: bool = False
    credit_noted: bool = False
    partially_paid: bool = False
    already_assigned: bool = False
    write_off_requested: bool = False  # a pending write-off request (desk): never hand it to the factor
    in_transit: str | None = None  # its money on its way (actions.in_transit): it is being paid
    reason: str | None = None  # set once decided: None = eligible


def is_intra_group(c: Candidate, contract: FactorContract) -> bool:
    rules = contract.eligibility.intra_group
    name = (c.customer_name or "").upper()
    return (c.customer_id in rules.customer_ids
            or (c.vat_id is not None and c.vat_id in rules.vat_ids)
            or any(p.upper() in name for p in rules.name_contains))


def is_targeted(c: Candidate, contract: FactorContract) -> bool:
    """Our own choice of what to hand over: any target rule selects; no rule = everything."""
    t = contract.target
    if not t.segments and t.min_payment_terms_days is None:
        return True
    if c.segment is not None and c.segment in t.segments:
        return True
    return (t.min_payment_terms_days is not None and c.payment_terms_days is not None
            and c.payment_terms_days >= t.min_payment_terms_days)


def exclusion_reason(c: Candidate, contract: FactorContract, as_of: date) -> str | None:
    """The first rule of the contract ``c`` fails, or None when the factor accepts it."""
    e = contract.eligibility
    ex = e.exclusions
    if c.amount_open <= ZERO:
        return "not_open"
    if c.currency.upper() != contract.currency:
        return "currency"
    if c.entity not in contract.entities:
        return "entity"
    if ex.intra_group and is_intra_group(c, contract):
        return "intra_group"
    if c.customer_id in e.exclude_customers:
        return "customer_excluded"
    if e.include_customers and c.customer_id not in e.include_customers:
        return "customer_not_listed"
    if e.countries and (c.country or "").upper() not in e.countries:
        return "country"
    if not is_targeted(c, contract):
        return "not_targeted"
    if c.segment is not None and c.segment not in e.segments:
        return "segment"
    if c.score is None:
        if not e.allow_unscored:
            return "unscored"
    elif e.min_score is not None and c.score < e.min_score:
        return "score"
    if c.already_assigned:
        return "already_assigned"
    if c.write_off_requested:
        return "write_off_requested"
    if ex.money_in_transit and c.in_transit:
        return "money_in_transit"
    if ex.disputed and c.disputed:
        return "disputed"
    if ex.credit_noted and c.credit_noted:
        return "credit_noted"
    if ex.partially_paid and (c.partially_paid or c.amount_open != c.amount_total):
        return "partially_paid"
    if (as_of - c.issue_date).days > e.max_invoice_age_days:
        return "too_old"
    if (as_of - c.due_date).days > e.max_days_past_due:
        return "overdue_too_long"
    if c.amount_open < e.min_amount:
        return "amount_below_min"
    if e.max_amount is not None and c.amount_open > e.max_amount:
        return "amount_above_max"
    return None


def priority(c: Candidate) -> tuple[date, str, str]:
    """Batch order: earliest due first (the factor finances the shortest, cheapest lines first)."""
    return (c.due_date, c.invoice_number, c.invoice_id)


def apply_concentration(
    accepted: Sequence[Candidate], outstanding: Mapping[str, Decimal], limit: Decimal, floor: Decimal = ZERO,
) -> tuple[list[Candidate], list[Candidate]]:
    """Keep a debtor's exposure within ``max(limit × book, floor)``; return (kept, dropped).

    ``book`` is what is already assigned and outstanding (``outstanding`` per customer)
    plus this batch. Dropping a line shrinks the book too, so the check repeats until
    every debtor fits, dropping each time the lowest-priority line of the debtor
    furthest over its cap. Deterministic: same input, same batch.
    """
    kept = sorted(accepted, key=priority)
    exposure: dict[str, Decimal] = dict(outstanding)
    for c in kept:
        exposure[c.customer_id] = exposure.get(c.customer_id, ZERO) + c.amount_open
    book = sum(exposure.values(), ZERO)
    dropped: list[Candidate] = []
    batch_customers = {c.customer_id for c in kept}
    while kept:
        cap = max(limit * book, floor)
        over = [(exposure[cid] - cap, cid) for cid in batch_customers if exposure[cid] > cap]
        if not over:
            break
        _, worst = max(over)
        idx = max(i for i, c in enumerate(kept) if c.customer_id == worst)
        gone = kept.pop(idx)
        dropped.append(replace(gone, reason="concentration"))
        exposure[worst] -= gone.amount_open
        book -= gone.amount_open
        if not any(c.customer_id == worst for c in kept):
            batch_customers.discard(worst)
    return kept, dropped


def decide(candidates: Iterable[Candidate], contract: FactorContract, as_of: date,
           outstanding: Mapping[str, Decimal]) -> tuple[list[Candidate], list[Candidate]]:
    """(selected in batch order, refused with their reason) for one contract."""
    accepted: list[Candidate] = []
    refused: list[Candidate] = []
    for c in candidates:
        reason = exclusion_reason(c, contract, as_of)
        (refused.append(replace(c, reason=reason)) if reason else accepted.append(c))
    e = contract.eligibility
    kept, dropped = apply_concentration(accepted, outstanding, e.concentration_limit, e.concentration_floor)
    return kept, refused + dropped
