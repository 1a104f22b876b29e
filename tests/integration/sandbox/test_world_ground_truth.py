"""Ground truth is self-consistent and points at identifiers that exist in the source files."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from lxml import etree

from sandbox.world import WorldSummary
from sandbox.world.ids import iban_is_valid, rf_is_valid

NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
STATUSES = {"open", "overdue", "partially_paid", "paid", "credited", "disputed", "written_off", "factored"}


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _bank_lines(world: WorldSummary) -> dict[str, tuple[Decimal, str, str]]:
    """bank_line_id -> (amount, ustrd, creditor ref) for every entry and batch transaction."""
    out = {}
    for path in world.root.glob("*/camt053/*.xml"):
        for ntry in etree.parse(str(path)).getroot().iterfind(".//c:Ntry", NS):
            ref = ntry.findtext("c:AcctSvcrRef", namespaces=NS)
            txs = ntry.findall("c:NtryDtls/c:TxDtls", NS)
            for n, tx in enumerate(txs, start=1):
                sign = 1 if tx.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -1
                key = ref if len(txs) == 1 else f"{ref}/{n}"
                out[key] = (sign * Decimal(tx.findtext("c:Amt", namespaces=NS)),
                            tx.findtext("c:RmtInf/c:Ustrd", default="", namespaces=NS),
                            tx.findtext("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", default="", namespaces=NS))
    return out


def test_every_invoice_balances_with_its_allocations(small_world: WorldSummary) -> None:
    invoices = _csv(small_world.root / "ground_truth" / "invoices.csv")
    allocations = _csv(small_world.root / "ground_truth" / "allocations.csv")
    applied: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    from_credit_note: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for a in allocations:
        applied[(a["entity"], a["invoice_number"])] += Decimal(a["amount_applied"])
        if a["kind"] == "credit_note":
            from_credit_note[(a["entity"], a["payment_ref"])] += Decimal(a["amount_applied"])
    numbers = Counter((i["entity"], i["invoice_number"]) for i in invoices)
    assert max(numbers.values()) == 1
    for inv in invoices:
        key = (inv["entity"], inv["invoice_number"])
        total, open_ = Decimal(inv["amount_total"]), Decimal(inv["amount_open"])
        assert inv["status"] in STATUSES and inv["currency"] == {"UK01": "GBP", "US01": "USD"}.get(inv["entity"], "EUR")
        if inv["doc_type"] == "invoice":
            assert total > 0 and total - applied[key] == open_, key
            assert Decimal(0) <= open_ <= total
            if inv["status"] == "paid":
                assert open_ == 0
            if inv["status"] in {"open", "overdue"}:
                assert open_ == total - sum(
                    Decimal(a["amount_applied"]) for a in allocations
                    if (a["entity"], a["invoice_number"]) == key and a["kind"] == "credit_note")
        else:
            assert inv["doc_type"] == "credit_note" and total < 0
            assert total + from_credit_note[key] == open_ == 0
    statuses = Counter(i["status"] for i in invoices)
    assert {"paid", "overdue", "open", "partially_paid", "disputed", "credited"} <= set(statuses)
    assert statuses["paid"] > len(invoices) * 0.5
    kinds = Counter(a["kind"] for a in allocations)
    assert {"full", "partial", "short", "grouped", "credit_note"} <= set(kinds)
    assert {a["payment_source"] for a in allocations} == {"bank", "stripe", "gocardless", "erp"}
    assert sum(i["disputed"] == "true" for i in invoices) >= 5


def test_allocations_point_at_real_payments(small_world: WorldSummary) -> None:
    allocations = _csv(small_world.root / "ground_truth" / "allocations.csv")
    lines = _bank_lines(small_world)
    charges, payments = {}, {}
    for code in ("FR01", "DE01"):
        for line in (small_world.root / code / "stripe" / "charges.jsonl").read_text(encoding="utf-8").splitlines():
            ch = json.loads(line)
            charges[ch["id"]] = ch
        for line in (small_world.root / code / "gocardless" / "payments.jsonl").read_text("utf-8").splitlines():
            pm = json.loads(line)
            payments[pm["id"]] = pm
    per_line: dict[str, Decimal] = defaultdict(Decimal)
    for a in allocations:
        amount = Decimal(a["amount_applied"])
        assert amount > 0
        if a["payment_source"] == "bank":
            assert a["payment_ref"] in lines
            per_line[a["payment_ref"]] += amount
        elif a["payment_source"] == "stripe":
            ch = charges[a["payment_ref"]]
            assert ch["status"] == "succeeded" and Decimal(ch["amount"] - ch["amount_refunded"]) / 100 == amount
        elif a["payment_source"] == "gocardless":
            pm = payments[a["payment_ref"]]
            assert pm["status"] in {"confirmed", "paid_out"} and Decimal(pm["amount"]) / 100 == amount
    for ref, amount in per_line.items():
        assert lines[ref][0] >= amount  # equal, except overpayments
    kinds = {a["payment_ref"]: a["kind"] for a in allocations}
    exact = [r for r, k in kinds.items() if k == "full" and r in lines and lines[r][0] == per_line[r]]
    assert exact
    assert any(rf_is_valid(lines[r][2]) for r in kinds if r in lines and lines[r][2])


def test_payouts_land_on_bank_lines_with_the_same_amount(small_world: WorldSummary) -> None:
    payouts = _csv(small_world.root / "ground_truth" / "payouts.csv")
    lines = _bank_lines(small_world)
    landed = [p for p in payouts if p["bank_line_ref"]]
    assert len(landed) >= len(payouts) - 6
    for p in landed:
        amount, ustrd, _ = lines[p["bank_line_ref"]]
        assert amount == Decimal(p["amount"])
        if p["source"] == "stripe":
            assert p["payout_id"] in ustrd
        else:
            assert re.match(r"^LETTRAGE(FR01|DE01)-[A-Z0-9]{11}$", ustrd)


def test_customers_behave_as_drawn(small_world: WorldSummary) -> None:
    customers = _csv(small_world.root / "ground_truth" / "customers.csv")
    behaviours = Counter(c["behaviour"] for c in customers)
    channels = Counter(c["channel"] for c in customers)
    assert set(behaviours) == {"punctual", "occasional_late", "chronic_late", "at_risk"}
    assert behaviours["punctual"] > behaviours["at_risk"]
    assert channels["bank_transfer"] > channels["stripe"] > 0 and channels["gocardless"] > 0
    parents = [c for c in customers if c["payer_name"] != c["name"]]
    assert parents and all(iban_is_valid(c["payer_iban"]) for c in parents)
