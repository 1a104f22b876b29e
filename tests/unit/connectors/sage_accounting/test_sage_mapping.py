"""Sage Accounting: ``$next`` paging and the flattening of objects into raw rows (money as Decimal)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.sage_accounting import SageNextPaginator, _allocation_lines, flatten
from connectors.sage_accounting.client import SageClient


@pytest.mark.parametrize(
    ("body", "expected"),
    [({"$next": "/sales_invoices?page=2&items_per_page=200"},
      "http://h/sage/v3.1/sales_invoices?page=2&items_per_page=200"),
     ({"$next": None}, None)],
    ids=["relative-next", "last-page"],
)
def test_next_paginator(body: dict[str, object], expected: str | None) -> None:
    pager = SageNextPaginator("http://h/sage/v3.1")
    pager.update(body)
    assert pager.next_url == expected and pager.has_next == (expected is not None)


def test_flatten_keeps_money_exact_and_links_flat() -> None:
    row = flatten({"id": "x", "$path": "/sales_invoices/x", "total_amount": "1234.56", "outstanding_amount": "0.10",
                   "contact": {"id": "c1", "displayed_as": "A (B)", "$path": "/contacts/c1"},
                   "allocated_artefacts": [{"artefact": {"id": "i1"}, "amount": "5.00"}]}, "UK01")
    assert row["total_amount"] == Decimal("1234.56") and isinstance(row["outstanding_amount"], Decimal)
    assert row["contact__id"] == "c1" and "$path" not in row and row["entity"] == "UK01"
    assert row["allocated_artefacts_json"].startswith('[{"artefact"')


def test_client_caps_items_per_page_at_sages_maximum() -> None:
    client = SageClient("t", "http://h/sage", page_size=500)
    assert client.page_size == 200 and client.api_root == "http://h/sage/v3.1"
    client.close()


def test_a_contact_allocation_is_a_line_per_artefact_with_its_kind() -> None:
    allocation = flatten({
        "id": "a1", "date": "2026-10-05", "contact": {"id": "c1", "$path": "/contacts/c1"},
        "transaction_type": {"id": "CUSTOMER_ALLOCATION"},
        "allocated_artefacts": [
            {"id": "x1", "artefact": {"id": "i1", "displayed_as": "SI-1024", "$path": "/sales_invoices/i1"},
             "amount": "300.00"},
            {"id": "x2", "artefact": {"id": "n1", "displayed_as": "SCN-11", "$path": "/sales_credit_notes/n1"},
             "amount": "-300.00"}]}, "UK01")
    lines = _allocation_lines(allocation)
    assert [(x["artefact_id"], x["artefact_kind"], x["amount"]) for x in lines] == [
        ("i1", "sales_invoices", Decimal("300.00")), ("n1", "sales_credit_notes", Decimal("-300.00"))]
    assert {x["allocation_id"] for x in lines} == {"a1"} and lines[0]["contact_id"] == "c1"
