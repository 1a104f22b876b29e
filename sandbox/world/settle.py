"""When and how customers pay: lateness by behaviour, and bank-transfer settlements.

Payments exist only up to ``as_of``; a payment drawn for later simply does not
exist yet, which is what leaves invoices open or overdue in the ground truth.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sandbox.world import remittance
from sandbox.world.calendar import next_business_day
from sandbox.world.documents import credited_cents
from sandbox.world.model import Allocation, BankTx, Customer, Document, Entity

GROUPED_RATE = 0.06
PARTIAL_RATE = 0.03
SHORT_RATE = 0.03
OVERPAY_RATE = 0.006


# The entities' write-off policy for payment differences (what their accountants close
# without asking the customer): rounding, bank charges up to an amount and a share of the
# invoice, and the early-payment discounts their terms grant. Lettrage's mappings/matching.yaml
# declares the same policy; the ground truth must follow the books' policy, not invent one.
# UK01, US01 and ES01 have no override there, so their books follow its defaults (the FR
# values): without an entry here their truth left every short payment open while the
# entities' declared policy closes it, a difference of policy, not of reconciliation.
_DEFAULT_POLICY: dict[str, object] = {
    "rounding": 5, "charges": 1500, "charges_pct": 2, "discounts": (2, 3), "discount_days": 10, "slack": 2,
}
WRITE_OFF_POLICY: dict[str, dict[str, object]] = {
    "FR": _DEFAULT_POLICY,
    "DE": {"rounding": 5, "charges": 1000, "charges_pct": 2, "discounts": (2, 3), "discount_days": 14, "slack": 2},
    "GB": _DEFAULT_POLICY,
    "US": _DEFAULT_POLICY,
    "ES": _DEFAULT_POLICY,
}


def written_off(country: str, inv: Document, short: int, paid_on: date) -> bool:
    """True when a shortfall of ``short`` cents on ``inv`` is closed by the entity's policy."""
    policy = WRITE_OFF_POLICY.get(country)
    if policy is None or short <= 0:
        return False
    if short <= int(policy["rounding"]):  # type: ignore[call-overload]
        return True
    if paid_on <= inv.issue_date + timedelta(days=int(policy["discount_days"])):  # type: ignore[call-overload]
        for pct in policy["discounts"]:  # type: ignore[attr-defined]
            if abs(short - (inv.total_cents * pct + 50) // 100) <= int(policy["slack"]):  # type: ignore[call-overload]
                return True
    return short <= int(policy["charges"]) and short * 100 <= inv.total_cents * int(policy["charges_pct"])  # type: ignore[call-overload]


def days_late(rng: random.Random, behaviour: str) -> int | None:
    """Days after the due date a customer pays (negative = early); ``None`` = never (so far)."""
    if behaviour == "punctual":
        return int(rng.triangular(-10, 3, 0))
    if behaviour == "occasional_late":
        return int(rng.triangular(-4, 6, 0)) if rng.random() < 0.7 else rng.randint(5, 35)
    if behaviour == "chronic_late":
        return rng.randint(10, 75)
    if rng.random() < 0.35:
        return None
    return rng.randint(30, 160)


def pay_date(inv: Document, rng: random.Random) -> date | None:
    """The day the customer means to pay ``inv`` — after any credit note, never before issue."""
    late = days_late(rng, inv.customer.behaviour)
    if late is None:
        return None
    day = inv.due_date + timedelta(days=late)
    if inv.credit_notes:
        last = max(cn.issue_date for cn in inv.credit_notes)
        if day <= last:
            day = last + timedelta(days=rng.randint(1, 5))
    if day <= inv.issue_date:
        day = inv.issue_date + timedelta(days=1)
    return next_business_day(day)


def amount_due(inv: Document) -> int:
    return inv.total_cents - credited_cents(inv)


def _e2e(rng: random.Random) -> str:
    return "NOTPROVIDED" if rng.random() < 0.4 else f"P{rng.randrange(10**13):013d}"


def _tx(cust: Customer, day: date, amount: int, docs: list[Document], rng: random.Random) -> BankTx:
    return BankTx(
        booking_date=day, amount_cents=amount, counterparty_name=cust.payer_name,
        counterparty_iban=cust.payer_iban, end_to_end_id=_e2e(rng), customer=cust, documents=list(docs),
    )


def _write_reference(tx: BankTx, number: str, style: str, country: str, rng: random.Random) -> None:
    tx.style = style
    if style == "exact":
        tx.ustrd = number
    elif style == "variant":
        tx.ustrd = remittance.variant(number, country, rng)
    elif style == "typo":
        tx.ustrd = remittance.typo(number, rng)
    elif style == "missing":
        tx.ustrd = remittance.missing(tx.counterparty_name, country, rng)
    elif style == "rf":
        tx.creditor_ref = remittance.rf(number)


def settle_bank_transfers(
    entity: Entity, cust: Customer, invoices: list[Document], as_of: date, rng: random.Random
) -> list[BankTx]:
    """Bank transfers of one customer: grouped, partial, short, over- and plain payments."""
    plans: list[tuple[date, Document, int]] = []
    for inv in invoices:
        due = amount_due(inv)
        if inv.disputed or due <= 0:
            continue
        day = pay_date(inv, rng)
        if day is not None:
            plans.append((day, inv, due))
    plans.sort(key=lambda p: (p[0], p[1].number))
    txs: list[BankTx] = []
    i = 0
    while i < len(plans):
        day, inv, due = plans[i]
        if rng.random() < GROUPED_RATE and i + 1 < len(plans) and (plans[i + 1][0] - day).days <= 21:
            want = rng.randint(2, 4)
            group = [p for p in plans[i : i + want] if (p[0] - day).days <= 21]
            i += len(group)
            when = max(p[0] for p in group)
            if when > as_of:
                continue
            tx = _tx(cust, when, sum(p[2] for p in group), [p[1] for p in group], rng)
            tx.style = "grouped"
            tx.ustrd = remittance.grouped([p[1].number for p in group], entity.country, rng)
            for _d, g_inv, g_due in group:
                g_inv.allocations.append(Allocation("bank", tx, g_inv, g_due, "grouped"))
            txs.append(tx)
            continue
        i += 1
        if day > as_of:
            continue
        style = remittance.pick_style(rng)
        roll = rng.random()
        if roll < PARTIAL_RATE and due >= 200:
            first = int(due * rng.uniform(0.3, 0.7))
            second_day = next_business_day(day + timedelta(days=rng.randint(15, 45)))
            for amount, when in ((first, day), (due - first, second_day)):
                if when > as_of:
                    break
                tx = _tx(cust, when, amount, [inv], rng)
                _write_reference(tx, inv.number, style, entity.country, rng)
                inv.allocations.append(Allocation("bank", tx, inv, amount, "partial"))
                txs.append(tx)
            continue
        if roll < PARTIAL_RATE + SHORT_RATE:
            if rng.random() < 0.5 or inv.credit_notes:
                paid = due - rng.randint(50, 1500)
            else:  # 2% early-payment discount taken, paid within ten days of issue
                paid = due - (due * 2 + 50) // 100
                day = next_business_day(min(day, inv.issue_date + timedelta(days=rng.randint(5, 10))))
            if paid <= 0:
                paid = due
            tx = _tx(cust, day, paid, [inv], rng)
            _write_reference(tx, inv.number, style, entity.country, rng)
            inv.allocations.append(Allocation("bank", tx, inv, paid, "short" if paid < due else "full"))
            # (a credit note changes what is due, not the policy: the shortfall on the net is closed alike, by
            # accountants who see the net, and by Lettrage, which nets the credit note the payer deducted)
            if written_off(entity.country, inv, due - paid, day):
                inv.allocations.append(Allocation("erp", tx, inv, due - paid, "write_off"))
            txs.append(tx)
            continue
        kind, paid = "full", due
        if roll < PARTIAL_RATE + SHORT_RATE + OVERPAY_RATE:
            kind, paid = "overpayment", due + rng.randint(100, 50_000)
        tx = _tx(cust, day, paid, [inv], rng)
        _write_reference(tx, inv.number, style, entity.country, rng)
        inv.allocations.append(Allocation("bank", tx, inv, due, kind))
        txs.append(tx)
    return txs
