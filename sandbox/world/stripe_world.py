"""Card payments through Stripe: charges, fees, refunds, disputes, daily payouts, as API objects.

Objects are shaped like ``GET /v1/<object>/<id>`` responses (livemode false). Each
balance transaction carries the sandbox-only key ``_payout`` naming the payout
that swept it, because the API only reveals that through a filtered list call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sandbox.world.calendar import from_unix, next_business_day, unix
from sandbox.world.documents import credit_note
from sandbox.world.ids import IdFactory
from sandbox.world.model import Allocation, Customer, Document, Entity, Payout
from sandbox.world.settle import amount_due, pay_date

FAILED_ATTEMPT_RATE = 0.04
REFUND_RATE = 0.03
DISPUTE_RATE = 0.01
METADATA_RATE = 0.9
ERP_ID_RATE = 0.85
DISPUTE_FEE = 1500
API_VERSION = "2024-06-20"
BRANDS = (("visa", 55), ("mastercard", 35), ("amex", 6), ("cartes_bancaires", 4))


def stripe_fee(amount: int) -> int:
    """1.5% + 0.25 EUR (European cards), rounded half-up to the cent."""
    return (amount * 15 + 500) // 1000 + 25


@dataclass(slots=True)
class Charge:
    ref: str
    invoice: Document
    customer: Customer
    amount: int
    created: int
    pi: str
    pm: str
    bt: str
    card: dict[str, Any]
    with_metadata: bool
    failed_before: str | None = None
    refund: dict[str, Any] | None = None
    dispute: dict[str, Any] | None = None


@dataclass(slots=True)
class StripeBook:
    """Everything Stripe knows about one entity's account, before it is turned into objects."""

    entity: Entity
    charges: list[Charge] = field(default_factory=list)
    bts: list[dict[str, Any]] = field(default_factory=list)


def _card(rng: random.Random, country: str, ids: IdFactory) -> dict[str, Any]:
    brand = rng.choices([b for b, _ in BRANDS], [w for _, w in BRANDS])[0]
    network = "visa" if brand == "cartes_bancaires" else brand
    return {
        "brand": network, "country": country, "exp_month": rng.randint(1, 12), "exp_year": rng.randint(2026, 2031),
        "fingerprint": ids.stripe("", 16).lstrip("_"), "funding": rng.choice(("credit", "debit", "credit")),
        "last4": f"{rng.randrange(10000):04d}", "network": network,
    }


def settle_stripe(
    book: StripeBook, cust: Customer, invoices: list[Document], as_of: date, rng: random.Random,
    ids: IdFactory, new_credit_notes: list[Document],
) -> None:
    """One card charge per invoice on the customer's pay date; some refunded or disputed later."""
    card = _card(rng, cust.country, ids)
    for inv in invoices:
        due = amount_due(inv)
        if inv.disputed or due <= 0:
            continue
        day = pay_date(inv, rng)
        if day is None or day > as_of:
            continue
        created = unix(day, rng.randint(8 * 3600, 20 * 3600))
        ch = Charge(
            ref=ids.stripe("ch_3"), invoice=inv, customer=cust, amount=due, created=created,
            pi=ids.stripe("pi_3"), pm=ids.stripe("pm_1"), bt=ids.stripe("txn_3"), card=card,
            with_metadata=rng.random() < METADATA_RATE,
        )
        if rng.random() < FAILED_ATTEMPT_RATE:
            ch.failed_before = ids.stripe("ch_3")
        fee = stripe_fee(due)
        book.bts.append(_bt(ch.bt, due, fee, created, unix(day + timedelta(days=2)), "charge", "charge", ch.ref,
                            f"Payment for {inv.number}", as_of))
        applied = due
        roll = rng.random()
        if roll < REFUND_RATE:
            r_day = day + timedelta(days=rng.randint(5, 30))
            if r_day <= as_of:
                r_amount = due if rng.random() < 0.4 else max(100, int(due * rng.uniform(0.1, 0.5)))
                r_created = unix(r_day, rng.randint(8 * 3600, 18 * 3600))
                ch.refund = {"id": ids.stripe("re_3"), "amount": r_amount, "created": r_created,
                             "bt": ids.stripe("txn_3")}
                book.bts.append(_bt(ch.refund["bt"], -r_amount, 0, r_created, unix(r_day + timedelta(days=1)),
                                    "refund", "refund", ch.refund["id"], "REFUND FOR CHARGE", as_of))
                new_credit_notes.append(credit_note(book.entity, inv, r_day, r_amount))
                applied = due - r_amount
        elif roll < REFUND_RATE + DISPUTE_RATE:
            d_day = day + timedelta(days=rng.randint(20, 60))
            if d_day <= as_of:
                d_created = unix(d_day, rng.randint(3600, 20 * 3600))
                ch.dispute = {"id": ids.stripe("dp_1"), "amount": due, "created": d_created,
                              "bt": ids.stripe("txn_1"), "reason": rng.choice(("fraudulent", "product_not_received")),
                              "status": "lost" if d_day + timedelta(days=21) <= as_of else "needs_response"}
                book.bts.append(_bt(ch.dispute["bt"], -due, DISPUTE_FEE, d_created, unix(d_day + timedelta(days=1)),
                                    "adjustment", "dispute", ch.dispute["id"],
                                    f"Chargeback withdrawal for {ch.ref}", as_of, fee_desc="Dispute fee"))
                inv.disputed = True
                applied = 0
        if applied > 0:
            inv.allocations.append(Allocation("stripe", ch, inv, applied, "full"))
        book.charges.append(ch)


def _bt(
    txn: str, amount: int, fee: int, created: int, available_on: int, type_: str, category: str, source: str,
    description: str, as_of: date, fee_desc: str = "Stripe processing fees",
) -> dict[str, Any]:
    return {
        "id": txn, "object": "balance_transaction", "amount": amount, "available_on": available_on,
        "created": created, "currency": "eur", "description": description, "exchange_rate": None, "fee": fee,
        "fee_details": (
            [{"amount": fee, "application": None, "currency": "eur", "description": fee_desc, "type": "stripe_fee"}]
            if fee else []
        ),
        "net": amount - fee, "reporting_category": category, "source": source,
        "status": "available" if from_unix(available_on) <= as_of else "pending", "type": type_,
    }


def make_payouts(book: StripeBook, as_of: date, ids: IdFactory) -> list[Payout]:
    """Automatic daily payouts: each day with newly available funds sweeps them (negative days roll over)."""
    by_day: dict[date, list[dict[str, Any]]] = {}
    for bt in book.bts:
        by_day.setdefault(from_unix(bt["available_on"]), []).append(bt)
    payouts: list[Payout] = []
    carry: list[dict[str, Any]] = []
    for day in sorted(by_day):
        if day > as_of:
            break
        batch = carry + sorted(by_day[day], key=lambda b: (b["created"], b["id"]))
        net = sum(b["net"] for b in batch)
        if net <= 0:
            carry = batch
            continue
        carry = []
        po_id = ids.stripe("po_1")
        arrival = next_business_day(day + timedelta(days=1))
        created = unix(day, 6 * 3600)
        descriptor = f"LETTRAGE {book.entity.code}"
        for b in batch:
            b["_payout"] = po_id
        po_bt = _bt(ids.stripe("txn_1"), -net, 0, created, created, "payout", "payout", po_id,
                    "STRIPE PAYOUT", as_of)
        po_bt["available_on"] = unix(day)
        po_bt["_payout"] = po_id
        book.bts.append(po_bt)
        payouts.append(
            Payout(
                entity=book.entity.code, source="stripe", payout_id=po_id, created=day, arrival_date=arrival,
                amount_cents=net, fees_cents=sum(b["fee"] for b in batch), reference=descriptor,
                status="paid" if arrival <= as_of else "in_transit",
                extra={"created": created, "balance_transaction": po_bt["id"], "descriptor": descriptor},
            )
        )
    return payouts


def _address(cust: Customer) -> dict[str, Any]:
    return {"city": cust.city, "country": cust.country, "line1": "1 rue du Commerce" if cust.country == "FR"
            else "Hauptstraße 1", "line2": None, "postal_code": cust.postcode, "state": None}


def customer_object(cust: Customer, rng: random.Random) -> dict[str, Any]:
    meta = {"erp_customer_id": cust.customer_id} if rng.random() < ERP_ID_RATE else {}
    return {
        "id": cust.stripe_customer_id, "object": "customer", "address": _address(cust), "balance": 0,
        "created": cust.stripe_customer_created, "currency": "eur", "default_source": None, "delinquent": False,
        "description": cust.name, "discount": None, "email": cust.email,
        "invoice_prefix": (cust.stripe_customer_id or "")[4:12].upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None, "footer": None,
                             "rendering_options": None},
        "livemode": False, "metadata": meta, "name": cust.name, "next_invoice_sequence": 1, "phone": None,
        "preferred_locales": ["fr-FR" if cust.country == "FR" else "de-DE"], "shipping": None,
        "tax_exempt": "none", "test_clock": None,
    }


def charge_object(ch: Charge, entity: Entity, *, failed: bool = False) -> dict[str, Any]:
    refunded = ch.refund["amount"] if ch.refund and not failed else 0
    meta: dict[str, str] = {}
    if ch.with_metadata:
        meta = {"invoice_number": ch.invoice.number, "erp_customer_id": ch.customer.customer_id}
    return {
        "id": ch.failed_before if failed else ch.ref, "object": "charge", "amount": ch.amount,
        "amount_captured": 0 if failed else ch.amount, "amount_refunded": refunded, "application": None,
        "application_fee": None, "application_fee_amount": None,
        "balance_transaction": None if failed else ch.bt,
        "billing_details": {"address": _address(ch.customer), "email": ch.customer.email,
                            "name": ch.customer.name, "phone": None},
        "calculated_statement_descriptor": f"LETTRAGE {entity.code}", "captured": not failed,
        "created": ch.created - 600 if failed else ch.created, "currency": "eur", "customer": ch.customer.stripe_customer_id,
        "description": f"Facture {ch.invoice.number}" if ch.with_metadata else "Paiement en ligne",
        "destination": None, "disputed": bool(ch.dispute) and not failed, "failure_balance_transaction": None,
        "failure_code": "card_declined" if failed else None,
        "failure_message": "Your card was declined." if failed else None, "fraud_details": {}, "invoice": None,
        "livemode": False, "metadata": meta, "on_behalf_of": None,
        "outcome": {
            "network_status": "declined_by_network" if failed else "approved_by_network",
            "reason": "generic_decline" if failed else None, "risk_level": "normal", "risk_score": 20,
            "seller_message": "The bank did not return any further details with this decline." if failed
            else "Payment complete.", "type": "issuer_declined" if failed else "authorized",
        },
        "paid": not failed, "payment_intent": ch.pi, "payment_method": ch.pm,
        "payment_method_details": {"card": {
            "amount_authorized": None if failed else ch.amount, "brand": ch.card["brand"],
            "checks": {"address_line1_check": None, "address_postal_code_check": None, "cvc_check": "pass"},
            "country": ch.card["country"], "exp_month": ch.card["exp_month"], "exp_year": ch.card["exp_year"],
            "fingerprint": ch.card["fingerprint"], "funding": ch.card["funding"], "installments": None,
            "last4": ch.card["last4"], "mandate": None, "network": ch.card["network"],
            "three_d_secure": None, "wallet": None}, "type": "card"},
        "receipt_email": ch.customer.email, "receipt_number": None,
        "receipt_url": f"https://pay.stripe.com/receipts/payment/{ch.ref[3:]}", "refunded": refunded == ch.amount,
        "review": None, "shipping": None, "source": None, "source_transfer": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": "failed" if failed else "succeeded", "transfer_data": None,
        "transfer_group": None,
    }


def refund_object(ch: Charge) -> dict[str, Any]:
    r = ch.refund or {}
    return {
        "id": r["id"], "object": "refund", "amount": r["amount"], "balance_transaction": r["bt"], "charge": ch.ref,
        "created": r["created"], "currency": "eur",
        "destination_details": {"card": {"reference_status": "pending", "reference_type": "acquirer_reference_number",
                                         "type": "refund"}, "type": "card"},
        "metadata": {}, "payment_intent": ch.pi, "reason": "requested_by_customer", "receipt_number": None,
        "source_transfer_reversal": None, "status": "succeeded", "transfer_reversal": None,
    }


def dispute_object(ch: Charge, dispute_bt: dict[str, Any] | None) -> dict[str, Any]:
    d = ch.dispute or {}
    return {
        "id": d["id"], "object": "dispute", "amount": d["amount"],
        "balance_transactions": [dispute_bt] if dispute_bt else [], "charge": ch.ref, "created": d["created"],
        "currency": "eur", "evidence": {"customer_name": None, "product_description": None, "uncategorized_text": None},
        "evidence_details": {"due_by": d["created"] + 14 * 86400, "has_evidence": False, "past_due": False,
                             "submission_count": 0},
        "is_charge_refundable": False, "livemode": False, "metadata": {}, "payment_intent": ch.pi,
        "payment_method_details": {"card": {"brand": ch.card["brand"], "network_reason_code": "10.4"}, "type": "card"},
        "reason": d["reason"], "status": d["status"],
    }


def payout_object(po: Payout, entity: Entity, dest: str) -> dict[str, Any]:
    return {
        "id": po.payout_id, "object": "payout", "amount": po.amount_cents, "application_fee": None,
        "application_fee_amount": None, "arrival_date": unix(po.arrival_date), "automatic": True,
        "balance_transaction": po.extra["balance_transaction"], "created": po.extra["created"], "currency": "eur",
        "description": "STRIPE PAYOUT", "destination": dest, "failure_balance_transaction": None,
        "failure_code": None, "failure_message": None, "livemode": False, "metadata": {}, "method": "standard",
        "original_payout": None, "reconciliation_status": "completed" if po.status == "paid" else "in_progress",
        "reversed_by": None, "source_type": "card", "statement_descriptor": po.extra["descriptor"],
        "status": po.status, "type": "bank_account",
    }


def _event(ids: IdFactory, type_: str, created: int, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": ids.stripe("evt_1"), "object": "event", "api_version": API_VERSION, "created": created,
            "data": {"object": obj}, "livemode": False, "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None}, "type": type_}


def build_objects(
    book: StripeBook, customers: list[Customer], payouts: list[Payout], as_of: date, rng: random.Random,
    ids: IdFactory,
) -> dict[str, list[dict[str, Any]]]:
    """Every Stripe object of the account, sorted by creation, plus the last 30 days of events."""
    entity = book.entity
    dest = ids.stripe("ba_1")
    bt_by_id = {b["id"]: b for b in book.bts}
    charges: list[dict[str, Any]] = []
    refunds: list[dict[str, Any]] = []
    disputes: list[dict[str, Any]] = []
    events: list[tuple[int, str, dict[str, Any]]] = []
    for ch in book.charges:
        if ch.failed_before:
            charges.append(charge_object(ch, entity, failed=True))
        obj = charge_object(ch, entity)
        charges.append(obj)
        events.append((ch.created, "charge.succeeded", obj))
        if ch.refund:
            refunds.append(refund_object(ch))
            events.append((ch.refund["created"], "charge.refunded", obj))
        if ch.dispute:
            dobj = dispute_object(ch, bt_by_id.get(ch.dispute["bt"]))
            disputes.append(dobj)
            events.append((ch.dispute["created"], "charge.dispute.created", dobj))
    payout_objs = [payout_object(po, entity, dest) for po in payouts]
    for po, obj in zip(payouts, payout_objs, strict=True):
        if po.status == "paid":
            events.append((unix(po.arrival_date, 2 * 3600), "payout.paid", obj))
    since = unix(as_of - timedelta(days=30))
    until = unix(as_of + timedelta(days=1))
    events.sort(key=lambda e: (e[0], e[1], e[2]["id"]))
    key = lambda o: (o["created"], o["id"])  # noqa: E731
    return {
        "customers": sorted((customer_object(c, rng) for c in customers if c.stripe_customer_id), key=key),
        "charges": sorted(charges, key=key),
        "refunds": sorted(refunds, key=key),
        "disputes": sorted(disputes, key=key),
        "balance_transactions": sorted(book.bts, key=key),
        "payouts": sorted(payout_objs, key=key),
        "events": [_event(ids, t, c, o) for c, t, o in events if since <= c < until],
    }
