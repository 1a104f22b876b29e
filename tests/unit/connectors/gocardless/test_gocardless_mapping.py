"""How the GoCardless source maps payout items, cursors and bounds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from connectors._arrow import page_table
from connectors.gocardless import COLUMNS, iso, payout_item_rows, to_datetime


def test_payout_items_get_keys_and_exact_decimals() -> None:
    items = [
        {"type": "payment_paid_out", "amount": "1234.56", "links": {"payment": "PM1"}, "taxes": []},
        {
            "type": "gocardless_fee",
            "amount": "-12.35",
            "links": {"payment": "PM1"},
            "taxes": [{"amount": "0.10", "currency": "EUR"}, {"amount": "0.20", "currency": "EUR"}],
        },
    ]
    rows = payout_item_rows("PO1", "DE01", 500, items)
    assert [(r["payout_id"], r["item_index"], r["entity"]) for r in rows] == [
        ("PO1", 500, "DE01"),
        ("PO1", 501, "DE01"),
    ]
    assert [r["amount"] for r in rows] == [Decimal("1234.56"), Decimal("-12.35")]
    assert [r["taxes_total"] for r in rows] == [Decimal("0"), Decimal("0.30")]
    assert all(isinstance(r["amount"], Decimal) for r in rows)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (0, datetime(1970, 1, 1, tzinfo=UTC)),
        (date(2025, 3, 1), datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T10:00:00.000Z", datetime(2025, 3, 1, 10, tzinfo=UTC)),
        (datetime(2025, 3, 1), datetime(2025, 3, 1, tzinfo=UTC)),
    ],
    ids=["none", "unix", "date", "iso-z", "naive-is-utc"],
)
def test_to_datetime(value: object, expected: datetime | None) -> None:
    assert to_datetime(value) == expected  # type: ignore[arg-type]


def test_created_at_round_trips_between_cursor_and_filter() -> None:
    rows = page_table([{"id": "PM1", "created_at": "2025-03-01T10:00:00.123Z"}], COLUMNS["payments"],
                      {"entity": "DE01"}).to_pylist()
    assert rows[0]["created_at"] == datetime(2025, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert rows[0]["entity"] == "DE01"
    assert iso(int(datetime(2025, 3, 1, 10, tzinfo=UTC).timestamp())) == "2025-03-01T10:00:00.000Z"
