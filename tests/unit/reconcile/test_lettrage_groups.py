"""Lettrage codes of a proposal: one per set of ERP lines the matches tie together."""

from __future__ import annotations

from typing import Any

from warehouse.reconcile.erp import lettrage_code, lettrage_groups


def _row(payment_id: str, invoice_id: str, rule: str = "exact_reference") -> dict[str, Any]:
    return {"payment_id": payment_id, "invoice_id": invoice_id, "rule": rule}


def test_an_invoice_paid_by_a_transfer_and_a_credit_note_is_one_group() -> None:
    """"FA-127 moins avoir AV-1": the transfer, the invoice and the credit note are lettered together (a FEC line
    carries one EcritureLet: two codes on FA-127's line cannot be imported)."""
    rows = [_row("BANK1", "FA-127"), _row("AV-1", "FA-127", "credit_note"), _row("BANK2", "FA-200")]
    codes = lettrage_groups(rows)
    assert codes["p:BANK1"] == codes["i:AV-1"] == codes["i:FA-127"] == lettrage_code("BANK1")
    assert codes["p:BANK2"] == lettrage_code("BANK2") != codes["p:BANK1"]


def test_two_payments_of_one_invoice_and_a_grouped_payment_share_a_code() -> None:
    rows = [_row("B1", "I1"), _row("B2", "I1"), _row("B2", "I2"), _row("B3", "I3")]
    codes = lettrage_groups(rows)
    assert codes["p:B1"] == codes["p:B2"] == codes["i:I2"] == lettrage_code("B1")
    assert codes["p:B3"] == lettrage_code("B3")


def test_a_payer_deducting_a_credit_note_and_a_credit_note_alone() -> None:
    # the deduction is the payment applied to the credit note: the note is one node either way
    rows = [_row("B1", "I1"), _row("B1", "CN1"), _row("CN2", "I9", "credit_note")]
    codes = lettrage_groups(rows)
    assert codes["i:CN1"] == codes["p:B1"]
    assert codes["i:CN2"] == codes["i:I9"] == lettrage_code("CN2")
