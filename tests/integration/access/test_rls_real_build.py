"""Row-level security on a real build of two entities, and through a rebuild without re-applying access.

Contract tables are refilled with DELETE+INSERT, so their grants and policies must
survive a rebuild on their own; ``apply_access`` is only needed for tables a build
drops and recreates.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg2
import pytest

from lettrage.config import WarehouseConfig
from warehouse.access import RoleNames, drop_access, grant_user, init_access
from warehouse.build import build_all
from warehouse.contract import CONTRACT
from warehouse.engine import connect

from .conftest import AS_OF, sync_and_build

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("warehouse_config", ["postgres"], indirect=True)]


def _counts(user: str, dataset: str, tables: list[str]) -> dict[str, tuple[int, int]]:
    conn = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=user)
    try:
        with conn.cursor() as cur:
            out = {}
            for t in tables:
                cur.execute(f"SELECT count(*) FILTER (WHERE entity = 'FR01'), count(*) FILTER (WHERE entity <> 'FR01') "
                            f'FROM "{dataset}"."{t}"')
                out[t] = tuple(cur.fetchone())
            return out
    finally:
        conn.close()


def test_a_fr01_reader_sees_no_de01_row_of_a_real_build_even_after_a_rebuild(
        world: Path, warehouse_config: WarehouseConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sync_and_build(world, tmp_path / "dlt", monkeypatch, warehouse_config, ["FR01", "DE01"],
                   ["sage_fec", "sap_export"])
    roles = RoleNames(f"lt{uuid.uuid4().hex[:8]}")
    user = f"{roles.prefix}_ann"
    tables = [t.name for t in CONTRACT]
    try:
        with connect(warehouse_config) as engine:
            init_access(engine, roles)
            grant_user(engine, user, "reader", ["FR01"], roles=roles)
            truth = {t: tuple(engine.query(
                f"SELECT count(*) FILTER (WHERE entity = 'FR01'), count(*) FILTER (WHERE entity = 'DE01') FROM \"{t}\"")[0])
                for t in tables}
        assert sum(de for _, de in truth.values()) > 1000 and truth["fct_invoice"][1] > 0  # DE01 is really there
        seen = _counts(user, warehouse_config.dataset, tables)
        assert seen == {t: (fr, 0) for t, (fr, _) in truth.items()}

        with connect(warehouse_config) as engine:  # the nightly rebuild, without apply_access
            build_all(engine, as_of=AS_OF)
        assert _counts(user, warehouse_config.dataset, tables) == seen
    finally:
        with connect(warehouse_config) as engine:
            drop_access(engine, roles, [user])
