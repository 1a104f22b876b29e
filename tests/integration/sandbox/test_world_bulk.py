"""Bulk writers and object streams used by the benchmarks produce valid, streamable data."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from decimal import Decimal
from itertools import islice
from pathlib import Path

from sandbox.world import (
    iter_gocardless_payments,
    iter_stripe_balance_transactions,
    write_bulk_fec,
    write_bulk_sap,
)
from sandbox.world.writers.fec import FEC_COLUMNS
from sandbox.world.writers.sap import SAP_COLUMNS


def test_bulk_fec_is_balanced_and_deterministic(tmp_path: Path) -> None:
    n = write_bulk_fec(tmp_path / "a.txt", 3_000, seed=7)
    write_bulk_fec(tmp_path / "b.txt", 3_000, seed=7)
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes()
    lines = (tmp_path / "a.txt").read_bytes().decode("utf-8").split("\r\n")[:-1]
    assert lines[0].split("\t") == list(FEC_COLUMNS) and len(lines) - 1 == n
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    letters: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines[1:]:
        cols = line.split("\t")
        assert len(cols) == 18
        amount = Decimal(cols[11].replace(",", ".")) - Decimal(cols[12].replace(",", "."))
        sums[(cols[0], cols[2])] += amount
        if cols[13]:
            letters[cols[13]] += amount
    assert sum(1 for j, _ in sums if j == "VE") == 3_000
    assert all(v == 0 for v in sums.values()) and all(v == 0 for v in letters.values())


def test_bulk_sap_rows(tmp_path: Path) -> None:
    n = write_bulk_sap(tmp_path / "bsid.csv", 2_000, seed=3)
    with (tmp_path / "bsid.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    assert list(rows[0]) == list(SAP_COLUMNS) and len(rows) == n
    assert sum(r["BLART"] == "RV" for r in rows) == 2_000
    assert all(re.match(r"^\d{1,3}(\.\d{3})*,\d{2}$", r["WRBTR"]) for r in rows)


def test_stripe_balance_transaction_stream_sums_per_payout() -> None:
    bts = list(iter_stripe_balance_transactions(1_000, seed=1))
    assert len(bts) == 1_000 and len({b["id"] for b in bts}) == 1_000
    nets: dict[str, int] = defaultdict(int)
    payouts: dict[str, int] = {}
    for b in bts:
        assert b["object"] == "balance_transaction" and b["net"] == b["amount"] - b["fee"]
        if b["type"] == "payout":
            payouts[b["_payout"]] = -b["amount"]
        else:
            nets[b["_payout"]] += b["net"]
    assert payouts and all(nets[p] == amount for p, amount in payouts.items())


def test_gocardless_payment_stream() -> None:
    payments = list(islice(iter_gocardless_payments(10_000, seed=1), 500))
    assert len(payments) == 500 and all(p["id"].startswith("PM") and isinstance(p["amount"], int) for p in payments)
    assert {p["status"] for p in payments} <= {"paid_out", "failed"}
    assert list(islice(iter_gocardless_payments(50, seed=1), 5)) == list(islice(iter_gocardless_payments(50, seed=1), 5))
