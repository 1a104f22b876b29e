"""API pages become Arrow tables shaped like the rows dlt's dict normalizer produced."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from connectors._arrow import join_tables, oldest_first, page_table, rows_table, shape_table
from connectors._http import Windows

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


def test_pages_converted_one_by_one_and_joined_load_what_one_conversion_of_all_rows_loads() -> None:
    """Each API page becomes Arrow as it arrives; joined and shaped, the rows are those of one big page.

    The pages differ the way real ones do: a column null on a whole page, a nested object
    missing from one, a list empty on one.
    """
    pages = [
        [
            {"id": "PM1", "amount": 10, "note": None, "links": {"mandate": "MD1"}, "fee_details": []},
            {"id": "PM2", "amount": 20, "note": None, "links": {"mandate": "MD2"}, "fee_details": []},
        ],
        [
            {"id": "PM3", "amount": 30, "note": "late", "links": {"mandate": "MD3", "payout": "PO1"},
             "fee_details": [{"amount": 3, "type": "stripe_fee"}]},
        ],
        [{"id": "PM4", "amount": None, "note": None, "links": None, "fee_details": []}],
    ]
    whole = page_table([dict(row) for page in pages for row in page], DECLARED, {"entity": "DE01"}, load_id="1.5")
    joined = join_tables([rows_table([dict(row) for row in page]) for page in pages])
    shaped = shape_table(joined, DECLARED, {"entity": "DE01"}, load_id="1.5")
    assert sorted(shaped.column_names) == sorted(whole.column_names)  # a column first seen on a later page comes later
    assert shaped.select(whole.column_names).equals(whole)  # same types, same values, same order of rows
    assert [r["_dlt_id"] for r in shaped.to_pylist()] == ["1.5.PM1", "1.5.PM2", "1.5.PM3", "1.5.PM4"]


def test_window_pages_take_arrow_tables_with_a_join() -> None:
    """``Windows.pages`` batches a window's Arrow table as it batches a list of rows."""
    counter = iter(range(1000))
    sizes = iter([7, 5, 0, 0])

    def fetch(lo: int, hi: int | None) -> pa.Table:
        return rows_table([{"n": next(counter)} for _ in range(next(sizes))])

    walker = Windows(0, 20, 1000, base=10, max_span=10)
    items = list(walker.pages(fetch, 3, lambda t: t.column("n").to_pylist(), batch=2, join=join_tables))
    assert items == [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]]


def test_a_key_the_first_object_lacks_is_kept_for_the_objects_that_have_it() -> None:
    """pyarrow names the columns after the first row: sparse objects must not lose fields."""
    rows = [
        {"id": "PM1", "amount": 100},
        {"id": "PM2", "amount": 200, "description": "INV-7", "links": {"payout": "PO2"}},
        {"id": "PM3", "description": "INV-8"},
    ]
    out = page_table(rows, DECLARED, {}).to_pylist()
    assert [r["description"] for r in out] == [None, "INV-7", "INV-8"]
    assert [r["links__payout"] for r in out] == [None, "PO2", None]
    assert [r["amount"] for r in out] == [100, 200, None]


def test_pages_of_other_kinds_of_objects_join_into_a_valid_table() -> None:
    """Stripe events, one per page: a dispute's (its balance_transactions a list of objects, each with its own
    list of fee_details, nulls among their fields) and a charge's. Joined by pyarrow's struct promotion, the
    list column was invalid and reading it failed ("index with value of 2 is out-of-bounds"): the whole Stripe
    source failed on such a mix of events."""
    def txn(n: str, amount: int, fees: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": n, "object": "balance_transaction", "amount": amount, "available_on": 1792886400,
                "created": 1792915200, "currency": "eur", "description": "Chargeback", "exchange_rate": None,
                "fee": sum(f["amount"] for f in fees), "fee_details": fees, "net": amount,
                "reporting_category": "dispute", "source": "dp_1", "status": "available", "type": "adjustment"}

    fee = {"amount": 1500, "application": None, "currency": "eur", "description": "Dispute fee", "type": "stripe_fee"}
    dispute = {"id": "evt_d", "data": {"object": {"balance_transactions": [
        txn("txn_1", -466465, [fee]), txn("txn_2", 466465, [])]}}}
    charge = {"id": "evt_c", "data": {"object": {"transfer_group": None}}}
    table = shape_table(oldest_first([[dispute], [charge]]), {"id": {"data_type": "text", "nullable": False}},
                        {"entity": "FR01"})
    table.validate(full=True)
    rows = {r["id"]: r for r in table.to_pylist()}
    assert json.loads(rows["evt_d"]["data__object__balance_transactions"])[1]["amount"] == 466465
    assert rows["evt_c"]["data__object__balance_transactions"] is None
