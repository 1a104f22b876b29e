"""A listing window read page by page: every object once, oldest first, as one Arrow table."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.stripe.client import StripeApi


def test_list_window_pages_through_the_api_and_answers_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """The API answers newest first, ``starting_after`` the last id of the page it gave.

    Each page is turned into Arrow (and reversed) as it arrives; the cursor must still be
    read off the page as the API sent it, or the listing would walk backwards forever.
    """
    newest_first = [{"id": f"txn_{i}", "created": 1000 + i, "fee_details": []} for i in range(24, -1, -1)]
    asked: list[str | None] = []

    def get_json(self: StripeApi, path: str, params: dict[str, Any]) -> dict[str, Any]:
        after = params.get("starting_after")
        asked.append(after)
        start = 0 if after is None else [row["id"] for row in newest_first].index(after) + 1
        page = [dict(row) for row in newest_first[start : start + params["limit"]]]
        return {"data": page, "has_more": start + len(page) < len(newest_first)}

    monkeypatch.setattr(StripeApi, "_get_json", get_json)
    api = StripeApi("sk_test_x", "http://127.0.0.1:9", page_size=10)
    table = api.list_window("balance_transactions", 0, None)
    assert table.column("id").to_pylist() == [f"txn_{i}" for i in range(25)]
    assert asked == [None, "txn_15", "txn_5"]
    assert table.column("fee_details").to_pylist() == ["[]"] * 25
