"""SAP B1: ``@odata.nextLink`` paging, session-expiry detection and raw row mapping."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from connectors.sap_b1 import ODataNextLinkPaginator, to_row
from connectors.sap_b1.auth import is_session_expired


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"@odata.nextLink": "Invoices?$skip=20"}, "http://h/b1s/v2/Invoices?$skip=20"), ({"value": []}, None)],
    ids=["relative-next-link", "last-page"],
)
def test_next_link_paginator(body: dict[str, object], expected: str | None) -> None:
    pager = ODataNextLinkPaginator("http://h/b1s/v2")
    pager.update(body)
    assert pager.next_url == expected


@pytest.mark.parametrize(
    ("status", "body", "expired"),
    [(401, b'{"error":{"code":"301","message":"Invalid session or session already timeout."}}', True),
     (401, b'{"error":{"code":"100000027","message":"Login failed"}}', False),
     (500, b"oops", False)],
    ids=["session-timeout", "login-failed", "server-error"],
)
def test_session_expiry_is_recognised_by_its_code(status: int, body: bytes, expired: bool) -> None:
    assert is_session_expired(httpx.Response(status, content=body)) is expired


def test_to_row_dates_cursor_and_no_floats() -> None:
    row = to_row({"DocEntry": 7, "DocDate": "2025-01-02T00:00:00Z", "DocTotal": Decimal("10.10"), "Weird": 0.1,
                  "UpdateDate": "2025-02-03T00:00:00Z", "UpdateTime": "10:11:12", "PaymentInvoices": [{}]}, "ES01")
    assert row["DocDate"] == "2025-01-02" and row["updated_at"] == "2025-02-03T10:11:12"
    assert row["Weird"] == Decimal("0.1") and "PaymentInvoices" not in row and row["entity"] == "ES01"


def test_to_row_reads_what_b1_keeps_in_lists() -> None:
    """A receipt's cheques and cards, a credit memo's base invoice (on its lines) and a partner's default IBAN."""
    payment = to_row({"DocEntry": 9, "CashSum": Decimal("10.00"), "TransferSum": Decimal("0"),
                      "PaymentChecks": [{"CheckNumber": 1, "CheckSum": Decimal("100.50")},
                                        {"CheckNumber": 2, "CheckSum": Decimal("20.00")}],
                      "PaymentCreditCards": [{"CreditSum": 5.25}]}, "ES01")
    assert (payment["ChecksSum"], payment["CardsSum"]) == (Decimal("120.50"), Decimal("5.25"))
    assert "PaymentChecks" not in payment
    note = to_row({"DocEntry": 3, "DocumentLines": [{"BaseType": 13, "BaseEntry": 41}, {"BaseType": 13, "BaseEntry": 41}]},
                  "ES01")
    assert note["BaseEntry"] == 41
    mixed = to_row({"DocEntry": 4, "DocumentLines": [{"BaseType": 13, "BaseEntry": 41}, {"BaseType": 13, "BaseEntry": 42}]},
                   "ES01")
    assert mixed.get("BaseEntry") is None  # two invoices: none of them is the base
    partner = to_row({"CardCode": "C1", "DefaultAccount": "2",
                      "BPBankAccounts": [{"AccountNo": "1", "IBAN": "ES00 1111"}, {"AccountNo": "2", "IBAN": " ES00 2222 "}]},
                     "ES01")
    assert partner["IBAN"] == "ES00 2222"
    assert "IBAN" not in to_row({"CardCode": "C2", "BPBankAccounts": [{"AccountNo": "1", "IBAN": ""}]}, "ES01")
