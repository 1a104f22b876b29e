"""Stripe and GoCardless objects carry the real field names, id shapes and enum values."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from sandbox.world import WorldSummary

ENTITIES = ["FR01", "DE01"]


def _load(world: WorldSummary, code: str, source: str, name: str) -> list[dict[str, Any]]:
    path = world.root / code / source / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("code", ENTITIES, ids=ENTITIES)
def test_stripe_charges_look_like_the_api(small_world: WorldSummary, code: str) -> None:
    charges = _load(small_world, code, "stripe", "charges")
    assert charges
    for ch in charges:
        assert re.match(r"^ch_[A-Za-z0-9]{24}$", ch["id"]) and ch["object"] == "charge"
        assert ch["livemode"] is False and ch["currency"] == "eur" and isinstance(ch["created"], int)
        assert ch["status"] in {"succeeded", "failed", "pending"}
        assert ch["payment_intent"].startswith("pi_") and ch["customer"].startswith("cus_")
        assert ch["payment_method_details"]["type"] == "card" and "billing_details" in ch
        if ch["status"] == "succeeded":
            assert ch["balance_transaction"].startswith("txn_") and ch["paid"] is True
        else:
            assert ch["balance_transaction"] is None and ch["failure_code"] == "card_declined"
    with_meta = [c for c in charges if c["status"] == "succeeded" and "invoice_number" in c["metadata"]]
    assert 0.8 <= len(with_meta) / sum(c["status"] == "succeeded" for c in charges) <= 0.98


@pytest.mark.parametrize("code", ENTITIES, ids=ENTITIES)
def test_stripe_balance_transactions_and_payout_composition(small_world: WorldSummary, code: str) -> None:
    bts = _load(small_world, code, "stripe", "balance_transactions")
    payouts = {p["id"]: p for p in _load(small_world, code, "stripe", "payouts")}
    assert {b["reporting_category"] for b in bts} >= {"charge", "refund", "payout"}
    composition: dict[str, int] = defaultdict(int)
    for b in bts:
        assert b["object"] == "balance_transaction" and b["net"] == b["amount"] - b["fee"]
        assert b["fee"] == sum(f["amount"] for f in b["fee_details"])
        assert b["type"] in {"charge", "refund", "adjustment", "payout"} and b["status"] in {"available", "pending"}
        if b["type"] == "charge":
            assert b["source"].startswith("ch_") and b["fee"] == (b["amount"] * 15 + 500) // 1000 + 25
        if "_payout" in b and b["type"] != "payout":
            composition[b["_payout"]] += b["net"]
        if b["type"] == "payout":
            assert b["_payout"] == b["source"] and -b["amount"] == payouts[b["source"]]["amount"]
    assert set(composition) == set(payouts)
    for po_id, po in payouts.items():
        assert po["object"] == "payout" and po["automatic"] is True and po["status"] in {"paid", "in_transit"}
        assert po["arrival_date"] >= po["created"] - 86400 and po["statement_descriptor"]
        assert composition[po_id] == po["amount"] > 0


def test_stripe_customers_refunds_disputes_events(small_world: WorldSummary) -> None:
    customers = _load(small_world, "FR01", "stripe", "customers") + _load(small_world, "DE01", "stripe", "customers")
    assert all(c["id"].startswith("cus_") and c["object"] == "customer" for c in customers)
    assert sum("erp_customer_id" in c["metadata"] for c in customers) >= len(customers) // 2
    refunds = _load(small_world, "FR01", "stripe", "refunds") + _load(small_world, "DE01", "stripe", "refunds")
    assert refunds and all(r["object"] == "refund" and r["charge"].startswith("ch_") for r in refunds)
    disputes = _load(small_world, "FR01", "stripe", "disputes") + _load(small_world, "DE01", "stripe", "disputes")
    assert disputes and all(d["object"] == "dispute" and d["status"] in {"lost", "needs_response"} for d in disputes)
    events = _load(small_world, "FR01", "stripe", "events")
    assert events and {e["type"] for e in events} <= {"charge.succeeded", "charge.refunded",
                                                      "charge.dispute.created", "payout.paid"}
    assert all(e["object"] == "event" and e["data"]["object"]["id"] for e in events)


_STATUSES = {"pending_submission", "submitted", "confirmed", "paid_out", "failed", "charged_back", "cancelled"}
_CREATED_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@pytest.mark.parametrize("code", ENTITIES, ids=ENTITIES)
def test_gocardless_objects_look_like_the_api(small_world: WorldSummary, code: str) -> None:
    prefixes = {"customers": "CU", "customer_bank_accounts": "BA", "mandates": "MD", "payments": "PM",
                "payouts": "PO", "events": "EV"}
    for name, prefix in prefixes.items():
        rows = _load(small_world, code, "gocardless", name)
        assert rows, name
        assert all(r["id"].startswith(prefix) and _CREATED_AT.match(r["created_at"]) for r in rows), name
    payments = _load(small_world, code, "gocardless", "payments")
    assert {p["status"] for p in payments} <= _STATUSES and "paid_out" in {p["status"] for p in payments}
    for p in payments:
        assert isinstance(p["amount"], int) and p["currency"] == "EUR"
        assert p["metadata"]["invoice_number"] == p["reference"]
        assert p["links"]["mandate"].startswith("MD") and p["links"]["creditor"].startswith("CR")
        assert ("payout" in p["links"]) == (p["status"] in {"paid_out", "charged_back"})
    mandates = _load(small_world, code, "gocardless", "mandates")
    assert all(m["status"] == "active" and m["scheme"] == "sepa_core" for m in mandates)


def test_gocardless_failures_and_events_carry_reason_codes(small_world: WorldSummary) -> None:
    events = _load(small_world, "FR01", "gocardless", "events") + _load(small_world, "DE01", "gocardless", "events")
    failed = [e for e in events if e["action"] == "failed"]
    assert failed and {e["details"]["reason_code"] for e in failed} <= {"AM04", "AC04", "MD01"}
    assert all(e["resource_type"] in {"payments", "payouts", "mandates"} for e in events)
    assert all({"origin", "cause", "description"} <= set(e["details"]) for e in events)


@pytest.mark.parametrize("code", ENTITIES, ids=ENTITIES)
def test_gocardless_payouts_sum_their_items(small_world: WorldSummary, code: str) -> None:
    payouts = {p["id"]: p for p in _load(small_world, code, "gocardless", "payouts")}
    items = _load(small_world, code, "gocardless", "payout_items")
    sums: dict[str, Decimal] = defaultdict(Decimal)
    fees: dict[str, Decimal] = defaultdict(Decimal)
    for it in items:
        assert isinstance(it["amount"], str) and re.match(r"^-?\d+\.\d{2}$", it["amount"])
        assert it["type"] in {"payment_paid_out", "gocardless_fee", "app_fee", "payment_failed",
                              "payment_charged_back", "refund"}
        sums[it["_payout"]] += Decimal(it["amount"])
        if it["type"] == "gocardless_fee":
            fees[it["_payout"]] -= Decimal(it["amount"])
    assert set(sums) == set(payouts)
    for po_id, po in payouts.items():
        assert sums[po_id] * 100 == po["amount"] and fees[po_id] * 100 == po["deducted_fees"]
        assert po["status"] in {"paid", "pending"} and po["reference"]
