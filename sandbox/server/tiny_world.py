"""A small, deterministic Stripe + GoCardless world in the layout ``sandbox.world`` writes.

Why it exists beside the full generator: server and connector tests need a few
hundred real-shaped objects with known counts and edge cases (a payout older than
six months, refunds, a dispute, a failed debit, a Stripe payout that failed and the
later payout that sent its money again) in milliseconds, and benchmarks need millions
of them streamed to disk without building a whole world.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

DAY = 86400


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _write(path: Path, rows: list[dict[str, Any]] | Iterator[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
            n += 1
    return n


def stripe_objects(
    entity: str, *, n_charges: int, as_of_ts: int, days: int, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Customers, charges, refunds, a dispute, balance transactions, daily payouts and recent events.

    One automatic payout in the middle of the history failed (the bank could not process it), as Stripe shows
    it: still listing the charges it swept (``balance_transactions?payout=`` answers them), its money back in
    the balance as a ``payout_failure`` transaction (reporting category ``payout_reversal``, ``source`` the
    failed payout) that the next daily payout sweeps with that day's charges.
    """
    rng = random.Random(f"{seed}-{entity}-stripe")
    e = entity.lower()
    start = as_of_ts - days * DAY
    customers = [
        {
            "id": f"cus_{e}{i:06d}",
            "object": "customer",
            "created": start + i * 60,
            "livemode": False,
            "email": f"ap{i}@client{i}.example",
            "name": f"Client {i} SAS",
            "currency": "eur",
            "description": None,
            "metadata": {"erp_customer_id": f"C{i:05d}"} if i % 7 else {},
        }
        for i in range(max(3, n_charges // 6))
    ]
    step = max(1, (days - 2) * DAY // max(n_charges, 1))
    charges, bts, refunds, disputes, events = [], [], [], [], []
    by_day: dict[int, list[dict[str, Any]]] = {}
    for i in range(n_charges):
        created = start + DAY + i * step + rng.randrange(0, 3600)
        cust = customers[i % len(customers)]
        amount = rng.randrange(1_000, 250_000)
        fee = amount * 15 // 1000 + 25
        failed = i % 29 == 13
        inv = f"FA-2025-{i + 1:06d}"
        charge = {
            "id": f"ch_{e}{i:08d}",
            "object": "charge",
            "amount": amount,
            "amount_captured": 0 if failed else amount,
            "amount_refunded": 0,
            "currency": "eur",
            "created": created,
            "customer": cust["id"],
            "description": f"Facture {inv}",
            "status": "failed" if failed else "succeeded",
            "paid": not failed,
            "refunded": False,
            "disputed": False,
            "captured": not failed,
            "livemode": False,
            "balance_transaction": None if failed else f"txn_ch_{e}{i:08d}",
            "payment_intent": f"pi_{e}{i:08d}",
            "failure_code": "card_declined" if failed else None,
            "failure_message": "Your card was declined." if failed else None,
            "billing_details": {"name": cust["name"], "email": cust["email"], "address": None, "phone": None},
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "last4": "4242"}},
            "metadata": {"invoice_number": inv, "erp_customer_id": cust["metadata"].get("erp_customer_id")}
            if i % 10
            else {},
        }
        charges.append(charge)
        if failed:
            continue
        bt = {
            "id": f"txn_ch_{e}{i:08d}",
            "object": "balance_transaction",
            "amount": amount,
            "fee": fee,
            "net": amount - fee,
            "currency": "eur",
            "created": created,
            "available_on": created + 2 * DAY,
            "reporting_category": "charge",
            "type": "charge",
            "source": charge["id"],
            "status": "available",
            "description": charge["description"],
            "exchange_rate": None,
            "fee_details": [
                {
                    "amount": fee,
                    "currency": "eur",
                    "type": "stripe_fee",
                    "description": "Stripe processing fees",
                    "application": None,
                }
            ],
        }
        bts.append(bt)
        if i % 11 == 5:
            rcreated = created + 3600
            refund = {
                "id": f"re_{e}{i:08d}",
                "object": "refund",
                "amount": amount // 2,
                "currency": "eur",
                "charge": charge["id"],
                "created": rcreated,
                "status": "succeeded",
                "reason": "requested_by_customer",
                "balance_transaction": f"txn_re_{e}{i:08d}",
                "payment_intent": charge["payment_intent"],
                "metadata": {},
            }
            refunds.append(refund)
            charge["amount_refunded"] = amount // 2
            bts.append(
                {
                    "id": f"txn_re_{e}{i:08d}",
                    "object": "balance_transaction",
                    "amount": -(amount // 2),
                    "fee": 0,
                    "net": -(amount // 2),
                    "currency": "eur",
                    "created": rcreated,
                    "available_on": rcreated,
                    "reporting_category": "refund",
                    "type": "refund",
                    "source": refund["id"],
                    "status": "available",
                    "fee_details": [],
                }
            )
        if i == 17:
            dcreated = created + 2 * DAY
            charge["disputed"] = True
            disputes.append(
                {
                    "id": f"dp_{e}{i:08d}",
                    "object": "dispute",
                    "amount": amount,
                    "currency": "eur",
                    "charge": charge["id"],
                    "created": dcreated,
                    "status": "lost",
                    "reason": "fraudulent",
                    "balance_transactions": [],
                    "metadata": {},
                    "is_charge_refundable": False,
                }
            )
            bts.append(
                {
                    "id": f"txn_dp_{e}{i:08d}",
                    "object": "balance_transaction",
                    "amount": -amount,
                    "fee": 1500,
                    "net": -amount - 1500,
                    "currency": "eur",
                    "created": dcreated,
                    "available_on": dcreated,
                    "reporting_category": "dispute",
                    "type": "adjustment",
                    "source": f"dp_{e}{i:08d}",
                    "status": "available",
                    "fee_details": [],
                }
            )
    for bt in bts:
        by_day.setdefault(bt["created"] // DAY, []).append(bt)
    payouts = []
    last_day = as_of_ts // DAY
    paid_days = [d for d in sorted(by_day) if d < last_day - 1]  # the last day's activity is not paid out yet
    fail_day = next((d for d in paid_days[len(paid_days) // 2 : -1]
                     if any(b["type"] == "charge" for b in by_day[d]) and sum(b["net"] for b in by_day[d]) > 0), None)
    returned: dict[str, Any] | None = None  # the failed payout's money, back in the balance until swept again
    for day in paid_days:
        members = by_day[day]
        if returned is not None and returned["created"] < (day + 1) * DAY + 3600:
            members, returned = [*members, returned], None
        net = sum(b["net"] for b in members)
        po_id = f"po_{e}{day:08d}"
        created = (day + 1) * DAY + 3600
        for b in members:
            b["_payout"] = po_id
        po_bt = {
            "id": f"txn_po_{e}{day:08d}",
            "object": "balance_transaction",
            "amount": -net,
            "fee": 0,
            "net": -net,
            "currency": "eur",
            "created": created,
            "available_on": created,
            "reporting_category": "payout",
            "type": "payout",
            "source": po_id,
            "status": "available",
            "fee_details": [],
            "_payout": po_id,
        }
        bts.append(po_bt)
        payout = {
            "id": po_id,
            "object": "payout",
            "amount": net,
            "currency": "eur",
            "created": created,
            "arrival_date": created + 2 * DAY,
            "status": "paid",
            "automatic": True,
            "method": "standard",
            "type": "bank_account",
            "statement_descriptor": f"STRIPE {entity}",
            "balance_transaction": po_bt["id"],
            "failure_balance_transaction": None,
            "failure_code": None,
            "failure_message": None,
            "reconciliation_status": "completed",
            "destination": f"ba_{e}",
            "livemode": False,
            "metadata": {},
        }
        payouts.append(payout)
        if day == fail_day:
            # the bank refused it the day after it was due: Stripe puts the money back in the balance
            failed_at = payout["arrival_date"] + DAY
            returned = {
                "id": f"txn_pf_{e}{day:08d}",
                "object": "balance_transaction",
                "amount": net,
                "fee": 0,
                "net": net,
                "currency": "eur",
                "created": failed_at,
                "available_on": failed_at,
                "reporting_category": "payout_reversal",
                "type": "payout_failure",
                "source": po_id,
                "status": "available",
                "description": "Payout failure",
                "fee_details": [],
            }
            bts.append(returned)
            payout.update(status="failed", failure_balance_transaction=returned["id"],
                          failure_code="could_not_process",
                          failure_message="The bank could not process this payout.")
    for charge in charges:
        if charge["created"] >= as_of_ts - 30 * DAY and charge["status"] == "succeeded":
            events.append(
                {
                    "id": f"evt_{charge['id']}",
                    "object": "event",
                    "type": "charge.succeeded",
                    "created": charge["created"],
                    "api_version": "2025-03-31.basil",
                    "livemode": False,
                    "pending_webhooks": 0,
                    "request": {"id": None, "idempotency_key": None},
                    "data": {"object": {"id": charge["id"], "object": "charge", "amount": charge["amount"]}},
                }
            )
    return {
        "customers": customers,
        "charges": charges,
        "refunds": refunds,
        "disputes": disputes,
        "balance_transactions": bts,
        "payouts": payouts,
        "events": events,
    }


def gocardless_objects(
    entity: str, *, n_payments: int, as_of_ts: int, days: int, seed: int
) -> dict[str, list[dict[str, Any]]]:
    """Customers, mandates, payments (a few failed), daily payouts with their items, events."""
    rng = random.Random(f"{seed}-{entity}-gc")
    E = entity.upper()
    start = as_of_ts - days * DAY
    n_cust = max(3, n_payments // 6)
    customers = [
        {
            "id": f"CU{E}{i:06d}",
            "created_at": _iso(start + i * 60),
            "email": f"compta{i}@gc{i}.example",
            "company_name": f"Kunde {i} GmbH",
            "given_name": None,
            "family_name": None,
            "country_code": "DE",
            "language": "de",
            "metadata": {"erp_customer_id": f"K{i:05d}"},
        }
        for i in range(n_cust)
    ]
    mandates = [
        {
            "id": f"MD{E}{i:06d}",
            "created_at": _iso(start + i * 60 + 30),
            "reference": f"LTRG-{E}-{i:04d}",
            "scheme": "sepa_core",
            "status": "active",
            "next_possible_charge_date": None,
            "payments_require_approval": False,
            "metadata": {},
            "links": {
                "customer": f"CU{E}{i:06d}",
                "customer_bank_account": f"BA{E}{i:06d}",
                "creditor": f"CR{E}",
            },
        }
        for i in range(n_cust)
    ]
    step = max(1, (days - 2) * DAY // max(n_payments, 1))
    payments, items_by_day, events = [], {}, []
    for i in range(n_payments):
        created = start + DAY + i * step + rng.randrange(0, 3600)
        amount = rng.randrange(5_000, 500_000)
        failed = i % 31 == 7
        recent = created > as_of_ts - 3 * DAY
        status = "failed" if failed else "confirmed" if recent else "paid_out"
        charge_day = created // DAY + 2
        inv = f"RE-2025-{i + 1:05d}"
        pay = {
            "id": f"PM{E}{i:08d}",
            "created_at": _iso(created),
            "charge_date": date.fromtimestamp(charge_day * DAY).isoformat(),
            "amount": amount,
            "amount_refunded": 0,
            "currency": "EUR",
            "description": f"Rechnung {inv}",
            "reference": inv,
            "status": status,
            "retry_if_possible": True,
            "scheme": "sepa_core",
            "fx": {"fx_currency": None, "fx_amount": None, "exchange_rate": None},
            "metadata": {"invoice_number": inv, "erp_customer_id": f"K{i % n_cust:05d}"},
            "links": {"mandate": mandates[i % n_cust]["id"], "creditor": f"CR{E}"},
        }
        payments.append(pay)
        if status == "paid_out":
            items_by_day.setdefault(charge_day + 1, []).append(pay)
        if failed:
            events.append(
                {
                    "id": f"EV{E}{i:08d}",
                    "created_at": _iso(created + DAY),
                    "action": "failed",
                    "resource_type": "payments",
                    "metadata": {},
                    "links": {"payment": pay["id"]},
                    "details": {
                        "cause": "insufficient_funds",
                        "origin": "bank",
                        "scheme": "sepa_core",
                        "reason_code": "AM04",
                        "description": "The customer's account had insufficient funds to make this payment.",
                    },
                }
            )
    payouts, items = [], []
    for day in sorted(items_by_day):
        members = items_by_day[day]
        po_id = f"PO{E}{day:08d}"
        fees = [m["amount"] * 1 // 100 + 20 for m in members]
        net = sum(m["amount"] for m in members) - sum(fees)
        created = day * DAY + 7200
        for m, fee in zip(members, fees, strict=True):
            m["links"]["payout"] = po_id
            items.append(
                {
                    "type": "payment_paid_out",
                    "amount": _dec(m["amount"]),
                    "taxes": [],
                    "links": {"payment": m["id"], "mandate": m["links"]["mandate"]},
                    "_payout": po_id,
                }
            )
            items.append(
                {
                    "type": "gocardless_fee",
                    "amount": _dec(-fee),
                    "taxes": [
                        {
                            "amount": "0.00",
                            "currency": "EUR",
                            "destination_amount": None,
                            "destination_currency": None,
                            "exchange_rate": None,
                            "tax_rate_id": "GB_VAT_1",
                        }
                    ],
                    "links": {"payment": m["id"], "mandate": m["links"]["mandate"]},
                    "_payout": po_id,
                }
            )
        payouts.append(
            {
                "id": po_id,
                "amount": net,
                "deducted_fees": sum(fees),
                "currency": "EUR",
                "arrival_date": date.fromtimestamp((day + 1) * DAY).isoformat(),
                "created_at": _iso(created),
                "reference": f"{E}-PAYOUT-{day}",
                "status": "paid",
                "payout_type": "merchant",
                "amount_currency": None,
                "fx": {
                    "fx_currency": "EUR",
                    "fx_amount": None,
                    "exchange_rate": None,
                    "estimated_exchange_rate": None,
                },
                "tax_currency": None,
                "metadata": {},
                "links": {"creditor": f"CR{E}", "creditor_bank_account": f"BA{E}CRED"},
            }
        )
    return {
        "customers": customers,
        "mandates": mandates,
        "payments": payments,
        "payouts": payouts,
        "payout_items": items,
        "events": events,
    }


def _dec(minor: int) -> str:
    """Integer cents to GoCardless's decimal string (``-12.05``), exactly, without floats."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


def write_tiny_world(
    root: Path,
    *,
    entities: tuple[str, ...] = ("FR01", "DE01"),
    n_charges: int = 60,
    n_payments: int = 60,
    days: int = 240,
    as_of: date = date(2026, 1, 31),
    seed: int = 7,
) -> dict[str, dict[str, int]]:
    """Write ``world.json``, ``<ENTITY>/stripe/*.jsonl``, ``<ENTITY>/gocardless/*.jsonl``; return counts."""
    as_of_ts = int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp())
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, dict[str, int]] = {}
    meta = {"seed": seed, "as_of": as_of.isoformat(), "size": "tiny", "entities": []}
    for entity in entities:
        meta["entities"].append(
            {
                "code": entity,
                "name": f"Tiny {entity}",
                "currency": "EUR",
                "stripe_api_key": f"sk_test_sandbox_{entity}",
                "gocardless_access_token": f"sandbox_{entity}_token",
            }
        )
        for provider, objects in (
            ("stripe", stripe_objects(entity, n_charges=n_charges, as_of_ts=as_of_ts, days=days, seed=seed)),
            (
                "gocardless",
                gocardless_objects(entity, n_payments=n_payments, as_of_ts=as_of_ts, days=days, seed=seed),
            ),
        ):
            for kind, rows in objects.items():
                counts.setdefault(entity, {})[f"{provider}.{kind}"] = _write(
                    root / entity / provider / f"{kind}.jsonl", rows
                )
    (root / "world.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return counts


def as_of_timestamp(as_of: date) -> int:
    return int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp())


def days_before(as_of: date, n: int) -> date:
    return as_of - timedelta(days=n)
