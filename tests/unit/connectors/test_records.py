"""Row-level checks of the API sources: what reads, what is quarantined and how the quarantine row says why."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from connectors._files import quarantine_id
from connectors._records import AMOUNT, ISO_DATE, RecordChecks, fields_of, money
from connectors.netsuite import COLUMNS, FIELDS, NS_DATE


@pytest.mark.parametrize(("value", "expected"), [
    ("1234.56", Decimal("1234.56")), ("-12", Decimal("-12")), (Decimal("0.10"), Decimal("0.10")), (7, Decimal(7)),
    (0.1, Decimal("0.1")), (None, None), ("", None),
], ids=["text", "negative", "decimal", "int", "float-as-repr", "null", "empty"])
def test_money_reads_api_amounts(value: Any, expected: Decimal | None) -> None:
    assert money(value) == expected


@pytest.mark.parametrize("value", ["2,005.62", "5.000,00", "NaN", "12 EUR", True], ids=[
    "thousands-separator", "comma-decimal", "nan", "unit", "boolean"])
def test_money_refuses_what_it_would_have_to_guess(value: Any) -> None:
    with pytest.raises(ValueError):
        money(value)


def test_fields_follow_the_declared_columns() -> None:
    assert FIELDS["transactions"] == {"trandate": NS_DATE, "duedate": NS_DATE, "foreigntotal": AMOUNT,
                                      "foreignamountremaining": AMOUNT}
    assert fields_of({"day": {"data_type": "date"}, "name": {"data_type": "text"}}) == {"day": ISO_DATE}
    assert set(COLUMNS["customers"]) >= set(FIELDS["customers"]) == {"creditlimit"}


def test_a_bad_record_is_quarantined_field_by_field_and_the_others_read() -> None:
    checks = RecordChecks("netsuite", "US01")
    good = {"id": "1", "tranid": "INV1", "trandate": "10/31/2025", "duedate": "", "foreigntotal": "10.00",
            "foreignamountremaining": "0"}
    bad = {**good, "id": "2198", "tranid": "INV10478", "trandate": "31/10/2025", "foreigntotal": "2,005.62"}
    rows, quarantined = checks.split([good, dict(bad)], FIELDS["transactions"],
                                     lambda r: f"transaction {r['id']} ({r['tranid']})")
    assert rows == [{**good, "trandate": date(2025, 10, 31), "duedate": None, "foreigntotal": Decimal("10.00"),
                     "foreignamountremaining": Decimal(0)}]
    assert checks.quarantined == 1
    by_field = {q["field"]: q for q in quarantined}
    assert set(by_field) == {"trandate", "foreigntotal"}
    q = by_field["trandate"]
    assert (q["source_system"], q["entity"], q["file"], q["line"]) == ("netsuite", "US01", "transaction 2198 (INV10478)",
                                                                       None)
    assert q["reason"] == "trandate '31/10/2025' is not a date M/D/YYYY (NetSuite's default date format) " \
                          "(month must be in 1..12)"
    assert json.loads(q["raw"]) == bad  # as the API sent it, not half converted
    assert q["quarantine_id"] == quarantine_id("netsuite", "transaction 2198 (INV10478)", None, "trandate")
    assert by_field["foreigntotal"]["reason"].startswith("foreigntotal '2,005.62' is not an amount such as 1234.56")


def test_an_object_whose_lists_do_not_read_is_quarantined_without_a_field() -> None:
    def convert(obj: dict[str, Any]) -> dict[str, Any]:
        return {"DocEntry": obj["DocEntry"], "ChecksSum": sum(money(c) or 0 for c in obj["checks"])}

    rows, quarantined = RecordChecks("sap_b1", "ES01").split(
        [{"DocEntry": 9, "checks": ["1,00"]}], {}, lambda o: f"incoming payment {o['DocEntry']}", convert)
    assert rows == [] and [(q["file"], q["field"]) for q in quarantined] == [("incoming payment 9", None)]
    assert quarantined[0]["reason"].startswith("cannot be read:")
