"""SEPA direct debits through GoCardless: mandates, payments on the due date,
failures and retries, chargebacks, daily payouts with their items, and events.

As on the real API, a payment's ``paid_out`` event and its ``chargeback_settled``
event (the chargeback debited from a later payout) carry ``links.payout``: they
are how a payout whose items answer 410 is composed again.

Objects follow the GoCardless Pro API (``created_at`` ISO 8601 ``Z``, integer
cents on payments and payouts, decimal strings on payout items). Payout items
carry the sandbox-only ``_payout`` key so the local server can answer
``GET /payout_items?payout=…``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sandbox.world.calendar import iso_z, next_business_day
from sandbox.world.ids import IdFactory
from sandbox.world.model import Allocation, Customer, Document, Entity, Payout
from sandbox.world.settle import amount_due

FAILURE_RATE = 0.03
AT_RISK_FAILURE_RATE = 0.15
CHARGEBACK_RATE = 0.008
FAILURE_CODES = (("AM04", "insufficient_funds", "The customer's account had insufficient funds."),
                 ("AC04", "bank_account_closed", "The customer's bank account was closed."),
                 ("MD01", "mandate_cancelled", "The mandate for this payment was cancelled."))


def gocardless_fee(amount: int) -> int:
    """1% + 0.20 EUR, capped at 4.00 EUR (GoCardless standard pricing)."""
    return min((amount + 50) // 100 + 20, 400)


def cents_str(cents: int) -> str:
    """Payout item amounts are decimal strings: ``-1.43``, ``120.00``."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


@dataclass(slots=True)
class GcPayment:
    ref: str
    invoice: Document
    customer: Customer
    amount: int
    created: date
    charge_date: date
    # (day, action, details) or (day, action, details, payout): settlement events name their payout
    history: list[tuple[Any, ...]] = field(default_factory=list)
    collected: bool = False  # confirmed (funds collected) — may later be charged back
    chargeback_day: date | None = None
    payout: str | None = None
    paid_out_day: date | None = None


@dataclass(slots=True)
class GcBook:
    entity: Entity
    creditor: str
    creditor_bank_account: str
    payments: list[GcPayment] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)


def _details(cause: str, description: str, origin: str = "gocardless", **extra: str) -> dict[str, Any]:
    return {"origin": origin, "cause": cause, "description": description, **extra}


def settle_gocardless(
    book: GcBook, cust: Customer, invoices: list[Document], as_of: date, rng: random.Random, ids: IdFactory
) -> None:
    """Collect each invoice on its due date; ~3% fail (AM04/AC04/MD01) and are retried a week later."""
    fail_rate = AT_RISK_FAILURE_RATE if cust.behaviour == "at_risk" else FAILURE_RATE
    for inv in invoices:
        due = amount_due(inv)
        if inv.disputed or due <= 0:
            continue
        charge = next_business_day(max(inv.due_date, inv.issue_date + timedelta(days=6)))
        for attempt in range(3):
            created = charge - timedelta(days=5 if attempt == 0 else 3)
            if created > as_of:
                break
            pm = GcPayment(ref=ids.gocardless("PM"), invoice=inv, customer=cust, amount=due, created=created,
                           charge_date=charge)
            pm.history.append((created, "created", _details("payment_created", "Payment created via the API.", "api")))
            pm.history.append((charge - timedelta(days=2), "submitted",
                               _details("payment_submitted", "Payment submitted to the banks.")))
            book.payments.append(pm)
            if rng.random() < fail_rate:
                code, cause, text = rng.choice(FAILURE_CODES)
                pm.history.append((charge + timedelta(days=1), "failed",
                                   _details(cause, text, "bank", scheme="sepa_core", reason_code=code)))
                charge = next_business_day(charge + timedelta(days=8))
                continue
            pm.history.append((charge + timedelta(days=1), "confirmed",
                               _details("payment_confirmed", "Enough time has passed since the payment was "
                                        "submitted for the banks to return an error, so this payment is now "
                                        "confirmed.")))
            pm.collected = charge + timedelta(days=1) <= as_of
            if rng.random() < CHARGEBACK_RATE:
                pm.chargeback_day = charge + timedelta(days=rng.randint(15, 50))
            if pm.collected and (pm.chargeback_day is None or pm.chargeback_day > as_of):
                inv.allocations.append(Allocation("gocardless", pm, inv, due, "full"))
            elif pm.collected and pm.chargeback_day is not None:
                inv.disputed = True
            break


def make_payouts(book: GcBook, as_of: date, ids: IdFactory) -> list[Payout]:
    """Daily payouts two business days after collection; chargebacks deducted from the next one."""
    pending: dict[date, list[tuple[str, GcPayment]]] = {}
    for pm in book.payments:
        if not pm.collected:
            continue
        day = next_business_day(pm.charge_date + timedelta(days=2))
        pending.setdefault(day, []).append(("payment_paid_out", pm))
        if pm.chargeback_day is not None:
            pending.setdefault(next_business_day(pm.chargeback_day), []).append(("payment_charged_back", pm))
    payouts: list[Payout] = []
    carry: list[tuple[str, GcPayment]] = []
    for day in sorted(pending):
        if day > as_of:
            break
        batch = carry + pending[day]
        items: list[tuple[str, GcPayment, int]] = []
        for kind, pm in batch:
            if kind == "payment_paid_out":
                items.append((kind, pm, pm.amount))
                items.append(("gocardless_fee", pm, -gocardless_fee(pm.amount)))
            elif pm.payout is not None:  # only what was paid out can be clawed back from a payout
                items.append((kind, pm, -pm.amount))
        net = sum(a for _k, _p, a in items)
        if net <= 0:
            carry = batch
            continue
        carry = []
        po_id = ids.gocardless("PO")
        reference = f"LETTRAGE{book.entity.code}-{ids.upper('', 11)}"
        fees = -sum(a for k, _p, a in items if k == "gocardless_fee")
        arrival = next_business_day(day + timedelta(days=1))
        for kind, pm, amount in items:
            if kind == "payment_paid_out":
                pm.payout, pm.paid_out_day = po_id, day
                pm.history.append((day, "paid_out", _details("payment_paid_out", "The payment has been paid out "
                                                             "by GoCardless."), po_id))
            elif kind == "payment_charged_back":  # the API says which payout the chargeback was debited from
                pm.history.append((day, "chargeback_settled", _details(
                    "chargeback_settled", "This chargeback has been settled against a payout."), po_id))
            book.items.append({
                "amount": cents_str(amount), "links": {"payment": pm.ref, "mandate": pm.customer.gc_mandate_id},
                "taxes": [], "type": kind, "_payout": po_id,
            })
        payouts.append(Payout(entity=book.entity.code, source="gocardless", payout_id=po_id, created=day,
                              arrival_date=arrival, amount_cents=net, fees_cents=fees, reference=reference,
                              status="paid" if arrival <= as_of else "pending"))
    for pm in book.payments:
        if pm.chargeback_day is not None and pm.collected:
            pm.history.append((pm.chargeback_day, "charged_back", _details(
                "refund_requested", "The customer asked their bank to refund the payment under the SEPA "
                "no-questions-asked guarantee.", "bank", scheme="sepa_core", reason_code="MD06")))
    return payouts


# Settlement actions say when a payout absorbed an earlier change; the payment's status stays
# what that change made it (charged_back, failed), as on the real API.
SETTLEMENT_ACTIONS = frozenset({"chargeback_settled", "late_failure_settled"})


def _status(history: list[tuple[Any, ...]], as_of: date) -> str:
    status = "pending_submission"
    for day, action, *_rest in sorted(history, key=lambda h: h[0]):
        if day <= as_of and action not in SETTLEMENT_ACTIONS:
            status = action if action != "created" else "pending_submission"
    return status


def build_objects(
    book: GcBook, customers: list[Customer], payouts: list[Payout], as_of: date, rng: random.Random, ids: IdFactory
) -> dict[str, list[dict[str, Any]]]:
    """Every GoCardless object of the creditor, sorted by ``created_at``."""
    gc_customers, accounts, mandates, events = [], [], [], []
    for c in customers:
        if not c.gc_customer_id or c.gc_created is None:
            continue
        secs = rng.randint(8 * 3600, 18 * 3600)
        given, family = rng.choice(("Marie Dupont", "Jean Martin", "Anna Schmidt", "Jonas Weber")).split()
        gc_customers.append({
            "id": c.gc_customer_id, "created_at": iso_z(c.gc_created, secs), "email": c.email,
            "given_name": given, "family_name": family, "company_name": c.name,
            "address_line1": "1 rue du Commerce" if c.country == "FR" else "Hauptstraße 1", "address_line2": None,
            "address_line3": None, "city": c.city, "region": None, "postal_code": c.postcode,
            "country_code": c.country, "language": "fr" if c.country == "FR" else "de",
            "swedish_identity_number": None, "danish_identity_number": None, "phone_number": None,
            "metadata": {"erp_customer_id": c.customer_id},
        })
        accounts.append({
            "id": c.gc_bank_account_id, "created_at": iso_z(c.gc_created, secs + 30),
            "account_number_ending": c.iban[-2:], "account_holder_name": c.name.upper()[:70],
            "account_type": None, "bank_name": "BNP PARIBAS" if c.country == "FR" else "DEUTSCHE BANK",
            "country_code": c.country, "currency": "EUR", "enabled": True, "metadata": {},
            "links": {"customer": c.gc_customer_id},
        })
        mandates.append({
            "id": c.gc_mandate_id, "created_at": iso_z(c.gc_created, secs + 60), "reference": c.gc_mandate_reference,
            "status": "active", "scheme": "sepa_core",
            "next_possible_charge_date": next_business_day(as_of + timedelta(days=3)).isoformat(),
            "payments_require_approval": False, "metadata": {}, "consent_parameters": None, "verified_at": None,
            "funds_settlement": "managed", "authorisation_source": "web",
            "links": {"customer_bank_account": c.gc_bank_account_id, "creditor": book.creditor,
                      "customer": c.gc_customer_id},
        })
        for days, action, cause in ((0, "created", "mandate_created"), (3, "active", "mandate_activated")):
            events.append((iso_z(c.gc_created + timedelta(days=days), secs + 60), "mandates", action,
                           {"mandate": c.gc_mandate_id}, _details(cause, f"Mandate {action}.")))
    payments = []
    for pm in book.payments:
        status = _status(pm.history, as_of)
        links: dict[str, str] = {"mandate": pm.customer.gc_mandate_id or "", "creditor": book.creditor}
        if pm.payout and pm.paid_out_day and pm.paid_out_day <= as_of:
            links["payout"] = pm.payout
        payments.append({
            "id": pm.ref, "created_at": iso_z(pm.created, 9 * 3600 + (int(pm.ref[2:6], 36) % 3600)),
            "charge_date": pm.charge_date.isoformat(), "amount": pm.amount, "description": f"Facture {pm.invoice.number}",
            "currency": "EUR", "status": status, "amount_refunded": 0, "reference": pm.invoice.number,
            "metadata": {"invoice_number": pm.invoice.number, "erp_customer_id": pm.customer.customer_id},
            "fx": {"fx_currency": "EUR", "fx_amount": None, "exchange_rate": None, "estimated_exchange_rate": None},
            "links": links, "retry_if_possible": True, "faster_ach": False,
        })
        for day, action, details, *payout in pm.history:
            if day <= as_of:
                ev_links = {"payment": pm.ref}
                if payout:  # paid_out, chargeback_settled: links.payout, as the real API sends
                    ev_links["payout"] = payout[0]
                events.append((iso_z(day, 6 * 3600 + 60 * len(events) % 3600), "payments", action, ev_links, details))
    payout_objs = []
    for po in payouts:
        payout_objs.append({
            "id": po.payout_id, "amount": po.amount_cents, "arrival_date": po.arrival_date.isoformat(),
            "created_at": iso_z(po.created, 5 * 3600), "currency": "EUR", "deducted_fees": po.fees_cents,
            "fx": {"fx_currency": "EUR", "fx_amount": None, "exchange_rate": None, "estimated_exchange_rate": None},
            "links": {"creditor": book.creditor, "creditor_bank_account": book.creditor_bank_account},
            "metadata": {}, "payout_type": "merchant", "reference": po.reference, "status": po.status,
            "tax_currency": None,
        })
        if po.status == "paid":
            events.append((iso_z(po.arrival_date, 7 * 3600), "payouts", "paid", {"payout": po.payout_id},
                           _details("payout_paid", "GoCardless has transferred the payout to the creditor's "
                                    "bank account.")))
    events.sort(key=lambda e: (e[0], e[1], e[2], sorted(e[3].items())))
    event_objs = [{
        "id": ids.gocardless("EV"), "created_at": created, "resource_type": rtype, "action": action,
        "links": links, "details": details, "metadata": {}, "resource_metadata": {},
    } for created, rtype, action, links, details in events]
    key = lambda o: (o["created_at"], o["id"])  # noqa: E731
    return {
        "customers": sorted(gc_customers, key=key), "customer_bank_accounts": sorted(accounts, key=key),
        "mandates": sorted(mandates, key=key), "payments": sorted(payments, key=key),
        "payouts": sorted(payout_objs, key=key), "payout_items": book.items, "events": event_objs,
    }
