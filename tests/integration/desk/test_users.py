"""desk_user on both engines: create, replace, authenticate, lock after five failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from desk.users import add_user, authenticate, find_user, get_principal, list_users
from lettrage.config import WarehouseConfig
from lettrage.errors import DataError
from warehouse.engine import connect


def test_add_and_authenticate(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        add_user(engine, "Alice", role="reviewer", entities=["fr01", "DE01"], password="long enough")
        user, why = authenticate(engine, "alice", "long enough", max_failures=5, lock_seconds=60)
        assert user is not None and why == "" and user.entities == ("FR01", "DE01") and user.role == "reviewer"
        stored = engine.query("SELECT password_hash FROM desk_user WHERE username = 'alice'")[0][0]
        assert stored.startswith("scrypt$") and "long enough" not in stored
        add_user(engine, "alice", role="reader", entities=["FR01"], password="another one")  # an admin's reset
        assert [u["role"] for u in list_users(engine)] == ["reader"]
        assert authenticate(engine, "alice", "long enough", max_failures=5, lock_seconds=60)[0] is None
        assert get_principal(engine, "alice") == get_principal(engine, "ALICE")
        found = find_user(engine, " ALICE ")  # one row, as list_users gives it, without reading every user
        assert found == list_users(engine)[0] and found["entities"] == "FR01"
        assert find_user(engine, "nobody") is None


def test_lock_after_five_failures_then_unlock_after_the_delay(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        add_user(engine, "bob", role="reader", entities=["FR01"], password="long enough")
        results = [authenticate(engine, "bob", "nope", max_failures=5, lock_seconds=60)[1] for _ in range(5)]
        assert results == ["invalid"] * 4 + ["locked"]
        assert authenticate(engine, "bob", "long enough", max_failures=5, lock_seconds=60) == (None, "locked")
        later = datetime.now(UTC) + timedelta(seconds=61)
        user, _ = authenticate(engine, "bob", "long enough", max_failures=5, lock_seconds=60, now=later)
        assert user is not None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"role": "boss", "entities": ["FR01"], "password": "long enough"}, "unknown role"),
    ({"role": "reader", "entities": [], "password": "long enough"}, "at least one entity"),
    ({"role": "reader", "entities": ["FR-01;"], "password": "long enough"}, "letters and digits"),
    ({"role": "reader", "entities": ["FR01"], "password": "short"}, "at least 8"),
], ids=["role", "no-scope", "bad-entity", "short-password"])
def test_invalid_users_are_refused(warehouse_config: WarehouseConfig, kwargs: dict, message: str) -> None:
    with connect(warehouse_config) as engine, pytest.raises(DataError, match=message):
        add_user(engine, "carol", **kwargs)
