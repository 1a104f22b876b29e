"""API pages become Arrow tables shaped like the rows dlt's dict normalizer produced."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa
import pytest

from connectors._arrow import page_table

DECLARED = {
    "id": {"data_type": "text", "nullable": False},
    "amount": {"data_type": "bigint", "nullable": True},
    "created_at": {"data_type": "timestamp", "nullable": True},
    "charge_date": {"data_type": "date", "nullable": True},
    "links__payout": {"data_type": "text", "nullable": True},
    "price": {"data_type": "decimal", "nullable": True},
}


def test_nested_objects_flatten_to_dlt_names_and_lists_become_json_text() -> None:
    rows = [
        {
            "id": "PM1",
            "links": {"mandate": "MD1", "payout": "PO1"},
            "fx": {"rate": {"value": "1.1"}},
            "fee_details": [{"amount": 44, "type": "stripe_fee"}],
        },
        {"id": "PM2", "links": {"mandate": "MD2"}, "fx": None, "fee_details": []},
    ]
    table = page_table(rows, DECLARED, {"entity": "DE01"})
    out = table.to_pylist()
    assert [r["links__payout"] for r in out] == ["PO1", None]
    assert [r["links__mandate"] for r in out] == ["MD1", "MD2"]
    assert [r["fx__rate__value"] for r in out] == ["1.1", None]
    assert [json.loads(r["fee_details"]) for r in out] == [[{"amount": 44, "type": "stripe_fee"}], []]
    assert [r["entity"] for r in out] == ["DE01", "DE01"]


def test_declared_columns_get_their_types_even_when_the_page_has_none() -> None:
    table = page_table(
        [
            {
                "id": "PM1",
                "amount": 433622,
                "created_at": "2023-12-27T09:00:00.123Z",
                "charge_date": "2024-01-01",
                "price": "-1.43",
                "note": None,
            }
        ],
        DECLARED,
        {},
    )
    types = {f.name: str(f.type) for f in table.schema}
    assert types == {
        "id": "string",
        "amount": "int64",
        "created_at": "timestamp[us, tz=UTC]",
        "charge_date": "date32[day]",
        "price": "decimal128(18, 2)",
        "links__payout": "string",
    }
    row = table.to_pylist()[0]
    assert row["created_at"] == datetime(2023, 12, 27, 9, 0, 0, 123000, tzinfo=UTC)
    assert row["charge_date"] == date(2024, 1, 1)
    assert row["price"] == Decimal("-1.43") and row["amount"] == 433622  # money exact, never float
    assert "note" not in types  # undeclared and null on the whole page: nothing to load, as with dicts


@pytest.mark.parametrize(
    ("value", "error"),
    [("twelve", pa.ArrowInvalid), ("2024-13-45", pa.ArrowInvalid)],
    ids=["text-in-an-integer-column", "impossible-date"],
)
def test_a_value_that_does_not_fit_its_declared_type_fails_loudly(value: str, error: type[Exception]) -> None:
    column = "amount" if value == "twelve" else "charge_date"
    with pytest.raises(error):
        page_table([{"id": "PM1", column: value}], DECLARED, {})
