"""Paging maths of the sandbox's sorted collections, and deterministic faults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox.server.faults import Faults
from sandbox.server.http import parse_form
from sandbox.server.store import Collection


@pytest.fixture
def coll(tmp_path: Path) -> Collection:
    src = tmp_path / "charges.jsonl"
    objs = [
        {"id": f"ch_{i:02d}", "created": 100 + (i // 2), "kind": "a" if i % 3 else "b", "_payout": "po"}
        for i in range(20)
    ]
    src.write_text("\n".join(json.dumps(o) for o in reversed(objs)) + "\n")
    return Collection(
        src, created_of=lambda o: o["created"], index_keys=[("kind", lambda o: o["kind"])], workdir=tmp_path
    )


def ids(coll: Collection, positions: list[int]) -> list[str]:
    return [coll.ids[p] for p in positions]


@pytest.mark.parametrize(
    ("kwargs", "want", "older", "newer"),
    [
        ({}, ["ch_19", "ch_18", "ch_17"], True, False),
        ({"after": "ch_17"}, ["ch_16", "ch_15", "ch_14"], True, True),
        ({"after": "ch_02"}, ["ch_01", "ch_00"], False, True),
        ({"before": "ch_10"}, ["ch_13", "ch_12", "ch_11"], True, True),
        ({"before": "ch_17"}, ["ch_19", "ch_18"], True, False),
        ({"gte": 105, "lt": 107}, ["ch_13", "ch_12", "ch_11"], True, False),
        ({"subset": "b"}, ["ch_18", "ch_15", "ch_12"], True, False),
        ({"subset": "b", "after": "ch_12"}, ["ch_09", "ch_06", "ch_03"], True, True),
    ],
    ids=[
        "first",
        "after",
        "last-page",
        "before",
        "before-top",
        "created-range",
        "filtered",
        "filtered-after",
    ],
)
def test_page(coll: Collection, kwargs: dict, want: list[str], older: bool, newer: bool) -> None:
    lo, hi = coll.created_range(kwargs.get("gte"), kwargs.get("lt"))
    subset = coll.indexes["kind"][kwargs["subset"]] if "subset" in kwargs else None
    page = coll.page(
        lo=lo,
        hi=hi,
        subset=subset,
        limit=3,
        after=coll.position[kwargs["after"]] if "after" in kwargs else None,
        before=coll.position[kwargs["before"]] if "before" in kwargs else None,
    )
    assert (ids(coll, page.positions), page.older, page.newer) == (want, older, newer)


def test_served_bytes_drop_sandbox_only_keys(coll: Collection) -> None:
    assert json.loads(coll.get("ch_05") or b"") == {"id": "ch_05", "created": 102, "kind": "a"}


def test_faults_are_counted_in_requests_and_deterministic() -> None:
    faults = Faults()
    faults.set(provider="stripe", rate_limit=2, retry_after=3, server_error=1, drop_on=[5])
    got = [faults.decide("stripe", "/stripe/v1/charges") for _ in range(6)]
    assert got == [("rate_limit", 3), ("rate_limit", 3), ("server_error", 500), None, ("drop", 5), None]
    assert faults.decide("gocardless", "/gocardless/payments") is None
    faults.set(path_contains="payout_items", server_error=1, server_error_status=503)
    assert faults.decide("gocardless", "/gocardless/payments") is None
    assert faults.decide("gocardless", "/gocardless/payout_items") == ("server_error", 503)
    with pytest.raises(TypeError):
        faults.set(bogus=1)


def test_parse_form_nests_like_stripe() -> None:
    body = (b"line_items[0][price]=p1&line_items[0][quantity]=2&line_items[1][price]=p2"
            b"&metadata[inv]=FA-1&mode=payment")
    assert parse_form(body) == {
        "line_items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        "metadata": {"inv": "FA-1"},
        "mode": "payment",
    }
