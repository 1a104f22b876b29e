"""How the Stripe source turns arguments and rows into what raw_stripe_* stores."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from connectors._arrow import page_table
from connectors.stripe import COLUMNS, to_unix


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (1_700_000_000, 1_700_000_000),
        (date(2025, 1, 1), 1_735_689_600),
        (datetime(2025, 1, 1), 1_735_689_600),
        (datetime(2025, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), 1_735_689_600),
        ("2025-01-01T00:00:00Z", 1_735_689_600),
    ],
    ids=["none", "unix", "date", "naive-is-utc", "aware", "iso-z"],
)
def test_to_unix(value: object, expected: int | None) -> None:
    assert to_unix(value) == expected  # type: ignore[arg-type]


def test_tag_adds_entity_and_payout_without_touching_amounts() -> None:
    table = page_table([{"id": "txn_1", "amount": 1234, "fee": 44, "payout": "po_1"}],
                       COLUMNS["balance_transactions"], {"entity": "FR01"})
    row = table.to_pylist()[0]
    assert {k: row[k] for k in ("id", "amount", "fee", "entity", "payout")} == {
        "id": "txn_1", "amount": 1234, "fee": 44, "entity": "FR01", "payout": "po_1"}
    assert str(table.schema.field("amount").type) == "int64"  # minor units stay exact integers


def test_every_resource_declares_entity_and_integer_amounts() -> None:
    for name, cols in COLUMNS.items():
        assert cols["entity"]["data_type"] == "text", name
        assert cols["id"]["nullable"] is False, name
        for money in ("amount", "fee", "net", "amount_refunded"):
            if money in cols:
                assert cols[money]["data_type"] == "bigint", (name, money)  # minor units, never float
