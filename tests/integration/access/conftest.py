"""A Postgres warehouse with two entities in every table, the access roles and one login per role.

Roles are cluster-wide, so each test gets its own prefix (``lt<hex>``) and the
fixture drops every role and user it created afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from lettrage.config import WarehouseConfig
from warehouse.access import RoleNames, drop_access, grant_user, init_access
from warehouse.contract import CONTRACT
from warehouse.engine import Engine, PostgresEngine, connect
from warehouse.reconcile.schema import ensure_reconcile_tables

AS_OF = date(2026, 11, 25)
ENTITIES = ("FR01", "DE01")
PRIVATE = ("raw_sage_fec_lines", "stg_sage_fec__invoices", "int_invoices_probe", "raw_stripe_charges")
SAMPLE = {"text": "x", "money": Decimal("10.00"), "date": date(2026, 1, 31), "timestamptz": datetime(2026, 1, 31, tzinfo=UTC),
          "bool": False, "bigint": 1, "ratio": Decimal("0.5"), "days": Decimal("1.0")}


def _fill(engine: Engine) -> None:
    """One row per entity in every contract table and mart, plus private tables and decisions."""
    from actions.dunning.schema import ensure_dunning_tables
    from actions.factoring.schema import ensure_factoring_tables

    ensure_reconcile_tables(engine)
    ensure_dunning_tables(engine)
    ensure_factoring_tables(engine)
    for table in CONTRACT:
        for n, entity in enumerate(ENTITIES):
            row: dict[str, Any] = {c: SAMPLE[t] for c, t in table.columns}
            types = dict(table.columns)
            row.update({"entity": entity, **{k: f"{entity}-{k}-{n}" for k in table.key
                                             if k != "entity" and types[k] == "text"}})
            if table.name == "fct_match":
                row.update(invoice_id=f"{entity}-invoice_id-0", payment_id=f"{entity}-payment_id-0", state="suggested",
                           rule="reference")
            cols = ", ".join(f'"{c}"' for c in row)
            engine.execute(f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join(":" + c for c in row)})', row)
    for name in PRIVATE:
        engine.execute(f'CREATE TABLE IF NOT EXISTS "{name}" (entity TEXT, secret TEXT)')
        engine.execute(f"INSERT INTO \"{name}\" VALUES ('FR01', 'raw'), ('DE01', 'raw')")


@dataclass
class AccessWorld:
    config: WarehouseConfig
    roles: RoleNames
    users: dict[str, str]   # short role -> login user

    def connect_as(self, short: str) -> Any:
        """A raw psycopg2 connection as the login user of ``short`` (reader, reviewer, loader, admin, reader_de)."""
        conn = psycopg2.connect(host="127.0.0.1", port=5432, dbname="test", user=self.users[short])
        conn.autocommit = True
        return conn

    def engine_as(self, short: str) -> PostgresEngine:
        url = f"postgresql://{self.users[short]}@127.0.0.1:5432/test"
        return PostgresEngine(WarehouseConfig(url=url, dataset=self.config.dataset).postgres_url(), self.config.dataset)


def _pg(warehouse_config: WarehouseConfig) -> None:
    if warehouse_config.engine != "postgres":
        pytest.skip("access control is Postgres-only")


@pytest.fixture
def access_world(warehouse_config: WarehouseConfig) -> Iterator[AccessWorld]:
    _pg(warehouse_config)
    tag = f"lt{uuid.uuid4().hex[:8]}"
    roles = RoleNames(tag)
    users = {"reader": f"{tag}_ann", "reader_de": f"{tag}_dirk", "reviewer": f"{tag}_rita",
             "loader": f"{tag}_flows", "admin": f"{tag}_ada"}
    with connect(warehouse_config) as engine:
        _fill(engine)
        try:
            init_access(engine, roles)
            grant_user(engine, users["reader"], "reader", ["FR01"], roles=roles)
            grant_user(engine, users["reader_de"], "reader", ["DE01"], roles=roles)
            grant_user(engine, users["reviewer"], "reviewer", ["FR01"], roles=roles)
            grant_user(engine, users["loader"], "loader", [], roles=roles)
            grant_user(engine, users["admin"], "admin", [], roles=roles)
            yield AccessWorld(warehouse_config, roles, users)
        finally:
            drop_access(engine, roles, list(users.values()))



@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample world on disk (files only are loaded from it here: no sandbox server needed)."""
    from sandbox.world import write_world

    root = tmp_path_factory.mktemp("access_world")
    write_world(root, seed=42, size="small", as_of=AS_OF)
    return root


def sync_and_build(world: Path, pipelines_dir: Path, monkeypatch: pytest.MonkeyPatch, config: WarehouseConfig,
                   entities: list[str], sources: list[str]) -> None:
    """Load ``sources`` of ``entities`` through the real connectors, then build everything as of AS_OF."""
    from connectors.registry import build_job, load_sources_config
    from sandbox.demo import write_sources_file
    from warehouse.build import build_all
    from warehouse.load import run_pipeline

    monkeypatch.setenv("LETTRAGE__PIPELINES_DIR", str(pipelines_dir))
    meta = json.loads((world / "world.json").read_text(encoding="utf-8"))
    cfg = load_sources_config(write_sources_file(world, meta, "http://127.0.0.1:9", "http://127.0.0.1:9"))
    for entity, source in cfg.jobs(entities, sources):
        job = build_job(cfg, entity, source)
        run_pipeline(job.pipeline_name, job.dlt_source)
    with connect(config) as engine:
        build_all(engine, as_of=AS_OF)
