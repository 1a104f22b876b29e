"""The factor's bank lines read as a treasurer reads them, and our transfers on to the factor."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from actions.factoring.settlement import BatchRef, ItemRef, ToTransfer, allocate_transfers, classify_line
from mappings.factoring import FactorContract, load_factoring

B1 = BatchRef("FDEMO-FR01-AAA111", Decimal("5000.00"), Decimal("900.00"))
B2 = BatchRef("FDEMO-FR01-BBB222", Decimal("2500.00"), Decimal("450.00"))
ITEMS = (ItemRef("A1", "FA-2026-0012", B1.batch_id, Decimal("150.00")),
         ItemRef("A2", "FA-2026-0013", B1.batch_id, Decimal("300.00")),
         ItemRef("L1", "FA-2026-0020", B2.batch_id, Decimal("450.00")))


@pytest.fixture(scope="module")
def contract() -> FactorContract:
    return load_factoring().contract("FDEMO-2026-001")


def classify(contract: FactorContract, text: str, amount: str) -> tuple[str, str | None, tuple[str, ...]]:
    got = classify_line(text, Decimal(amount), (B1, B2), contract, ITEMS)
    return got.kind, got.batch.batch_id if got.batch else None, tuple(i.invoice_id for i in got.items)


def test_a_release_naming_invoices_says_which_ones_the_factor_collected(contract: FactorContract) -> None:
    assert classify(contract, "LIBERATION RESERVE FDEMO-FR01-AAA111 FA-2026-0012", "150.00") == (
        "reserve_release", B1.batch_id, ("A1",))
    # no batch named: the invoices' batch; separators dropped by the bank still name the invoice
    assert classify(contract, "LIBERATION RESERVE FA20260012 FA20260013", "450.00") == (
        "reserve_release", B1.batch_id, ("A1", "A2"))
    # a number inside a longer one names nothing
    assert classify(contract, "RESERVE FDEMO-FR01-AAA111 FA-2026-00123", "150.00") == (
        "reserve_release", B1.batch_id, ())
    # invoices of two batches: no single batch, the invoices are still known
    assert classify(contract, "RELEASE FA-2026-0012 FA-2026-0020", "600.00") == (
        "unallocated", None, ("A1", "L1"))


def test_debits_are_the_factors_fees_or_our_transfers(contract: FactorContract) -> None:
    assert classify(contract, "COMMISSION AFFACTURAGE FDEMO-FR01-AAA111", "-45.00") == ("fee", B1.batch_id, ())
    assert classify(contract, "INTERETS DE FINANCEMENT NOVEMBRE", "-12.30") == ("fee", None, ())
    assert classify(contract, "REVERSEMENT REGLEMENT CLIENT FA-2026-0013", "-2000.00") == (
        "transfer", B1.batch_id, ("A2",))
    assert classify(contract, "VIREMENT", "-2000.00") == ("debit", None, ())
    # a fee word inside another word is no fee
    assert classify(contract, "COFFEE MACHINE", "-20.00") == ("debit", None, ())


def test_advances_as_before(contract: FactorContract) -> None:
    assert classify(contract, "VIR AFFACTURAGE AVANCE FDEMO-FR01-BBB222", "2500.00") == ("advance", B2.batch_id, ())
    assert classify(contract, "VIREMENT", "5000.00") == ("advance", B1.batch_id, ())
    assert classify(contract, "VIREMENT", "77.00") == ("unallocated", None, ())


def _owed(payment_id: str, invoice_id: str, amount: str) -> ToTransfer:
    return ToTransfer({"payment_id": payment_id, "invoice_id": invoice_id}, Decimal(amount))


def test_transfers_cover_the_payments_of_the_invoices_they_name_oldest_first() -> None:
    owed = [_owed("P1", "A1", "600.00"), _owed("P2", "A1", "400.00"), _owed("P3", "A2", "2000.00")]
    unmatched = allocate_transfers(owed, [
        ("T1", date(2026, 12, 1), Decimal("700.00"), ("A1",)),
        ("T2", date(2026, 12, 3), Decimal("2000.00"), ()),       # names nothing: the one payment of that amount
        ("T3", date(2026, 12, 4), Decimal("55.00"), ()),         # covers nothing
    ])
    assert unmatched == ["T3"]
    assert [(o.payment["payment_id"], o.left, o.sent_on, o.lines) for o in owed] == [
        ("P1", Decimal("0.00"), date(2026, 12, 1), ["T1"]),
        ("P2", Decimal("300.00"), date(2026, 12, 1), ["T1"]),
        ("P3", Decimal("0.00"), date(2026, 12, 3), ["T2"])]


def test_an_unnamed_transfer_of_an_amount_two_payments_share_covers_neither() -> None:
    owed = [_owed("P1", "A1", "500.00"), _owed("P2", "A2", "500.00")]
    assert allocate_transfers(owed, [("T1", date(2026, 12, 1), Decimal("500.00"), ())]) == ["T1"]
    assert all(o.sent == 0 for o in owed)
