"""Work-queue filters: kind, amount and age, within the user's scope."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest


def _rows(html: str) -> list[tuple[str, str, int, Decimal]]:
    """(entity, kind, age, amount) of each queue row."""
    pattern = (r"<tr><td>(\w+)</td><td><span class=\"tag [\w_]+\">([\w ]+)</span></td>\s*<td>[\d-]+</td>"
               r"<td class=\"num\">(\d+)</td><td class=\"num\">([^<]+)</td>")
    return [(e, k, int(a), Decimal(m.replace("\u202f", ""))) for e, k, a, m in re.findall(pattern, html)]


def test_unfiltered_queue_lists_both_entities_for_a_reviewer_of_all(client_for: Any) -> None:
    rows = _rows(client_for("rev").get("/queue").text)
    assert {e for e, *_ in rows} == {"FR01", "DE01"}


@pytest.mark.parametrize(("query", "check"), [
    ("kind=failed_debit", lambda r: r[1] == "failed debit"),
    ("min=1000", lambda r: abs(r[3]) >= 1000),
    ("max=500", lambda r: abs(r[3]) <= 500),
    ("age=60", lambda r: r[2] >= 60),
    ("entity=FR01&kind=chargeback&min=100", lambda r: r[0] == "FR01" and r[1] == "chargeback" and abs(r[3]) >= 100),
], ids=["kind", "min-amount", "max-amount", "age", "combined"])
def test_filters_keep_only_matching_rows(client_for: Any, query: str, check: Any) -> None:
    client = client_for("rev")
    everything = _rows(client.get("/queue").text)
    rows = _rows(client.get(f"/queue?{query}").text)
    assert rows, f"no row for {query}"
    assert all(check(r) for r in rows)
    assert len(rows) == len([r for r in everything if check(r)])


@pytest.mark.parametrize("query", ["min=abc", "age=old"], ids=["amount", "age"])
def test_bad_filter_values_are_a_400(client_for: Any, query: str) -> None:
    assert client_for("rev").get(f"/queue?{query}").status_code == 400
