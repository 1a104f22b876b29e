"""Reconciliation quality against the sample world's ground truth, on DuckDB and Postgres.

One small world (seed 42) loaded once through the real connectors into DuckDB
(staging and core built there), its canonical tables copied to each engine,
reconciled there and scored with :mod:`warehouse.reconcile.scoring`. The targets are
issue 6's: precision >= 99.5 %, envelope recall >= 97 %, every payment in exactly
one outcome, and the receivables balance equal to the ground truth per entity.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from lettrage.config import WarehouseConfig
from warehouse.build import build_core, build_staging
from warehouse.contract import BY_NAME
from warehouse.engine import Engine, connect
from warehouse.reconcile import reconcile
from warehouse.reconcile.schema import ensure_reconcile_tables
from warehouse.reconcile.scoring import QualityScore, read_ground_truth, score, warehouse_entities
from warehouse.schema import ensure_table
from warehouse.shapes import SHAPES

AS_OF = date(2026, 11, 25)
_BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_reconcile_quality.py"


def _load_world(root: Path, seed: int) -> None:
    """The benchmark's loader (one definition of 'load a world', shared with the benchmark)."""
    spec = importlib.util.spec_from_file_location("bench_reconcile_quality", _BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_reconcile_quality", module)
    spec.loader.exec_module(module)
    module.load_world(root, seed=seed, size="small", as_of=AS_OF)


CORE_TABLES = ("int_invoices", "dim_customer", "fct_bank_line", "fct_payout", "fct_payout_component", "fct_payment")


@pytest.fixture(scope="module")
def built_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, WarehouseConfig]]:
    """One small world, loaded and built once into DuckDB (loading through dlt is the slow part)."""
    base = tmp_path_factory.mktemp("quality")
    config = WarehouseConfig(url=f"duckdb:///{base / 'built.duckdb'}", dataset="lettrage")
    saved = {k: os.environ.get(k) for k in ("LETTRAGE__WAREHOUSE_URL", "LETTRAGE__DATASET", "LETTRAGE__PIPELINES_DIR")}
    os.environ.update({"LETTRAGE__WAREHOUSE_URL": config.url, "LETTRAGE__DATASET": config.dataset,
                       "LETTRAGE__PIPELINES_DIR": str(base / "dlt")})
    try:
        _load_world(base / "world", 42)
        with connect(config) as engine:
            build_core(engine, as_of=AS_OF, report=build_staging(engine))
        yield base / "world", config
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _copy_core(source: WarehouseConfig, target: Engine) -> None:
    """The canonical tables reconciliation reads, copied as they are (same rows on every engine)."""
    ensure_reconcile_tables(target)
    with connect(source, read_only=True) as src:
        for table in CORE_TABLES:
            columns = BY_NAME[table].columns if table in BY_NAME else SHAPES["invoices"]
            ensure_table(target, table, columns)
            names = [c for c, _ in columns if c in src.columns(table)]
            rows = src.query_dicts(f"SELECT {', '.join(names)} FROM {table}")
            target.execute(f"DELETE FROM {table}")
            for start in range(0, len(rows), 200):
                part = rows[start:start + 200]
                values = ", ".join("(" + ", ".join(f":{c}_{n}" for c in names) + ")" for n in range(len(part)))
                params = {f"{c}_{n}": r[c] for n, r in enumerate(part) for c in names}
                target.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES {values}", params)


def _quality(built: tuple[Path, WarehouseConfig], config: WarehouseConfig) -> tuple[QualityScore, set[str]]:
    root, source = built
    with connect(config) as engine:
        _copy_core(source, engine)
        reconcile(engine, as_of=AS_OF)
        entities = warehouse_entities(engine)
        return score(engine, read_ground_truth(root / "ground_truth", entities)), entities


def test_small_world_meets_the_quality_targets(warehouse_config: WarehouseConfig,
                                               built_world: tuple[Path, WarehouseConfig]) -> None:
    result, entities = _quality(built_world, warehouse_config)
    assert entities == {"FR01", "DE01", "UK01", "US01", "ES01"}  # every ERP family of the sample world
    assert result.auto_pairs > 1000 and result.payments_in_key > 1000
    assert result.precision >= 0.995, result.wrong
    assert result.envelope_recall >= 0.97, result.missed[:10]
    assert result.line_recall >= 0.97
    assert result.outcomes["unexplained"] == 0, result.unexplained
    assert sum(result.outcomes.values()) >= result.payments_in_key
    for entity in entities:
        assert result.balance(entity, truth=False) == result.balance(entity, truth=True), entity
        # what is not equal on invoices is exactly the cash not applied (listed as exceptions)
        assert (result.open_warehouse[entity] - result.open_truth[entity]
                == result.unapplied_warehouse[entity] - result.unapplied_truth[entity])


def test_scoring_counts_a_wrong_match_as_wrong(warehouse_config: WarehouseConfig,
                                               built_world: tuple[Path, WarehouseConfig]) -> None:
    """The scorer is honest: moving one auto match to another invoice costs precision and recall."""
    if warehouse_config.engine != "duckdb":
        pytest.skip("scorer logic is engine-independent; one engine suffices")
    root, _ = built_world
    with connect(warehouse_config) as engine:
        _copy_core(built_world[1], engine)
        reconcile(engine, as_of=AS_OF)
        truth = read_ground_truth(root / "ground_truth", warehouse_entities(engine))
        before = score(engine, truth)
        victim = engine.query(
            "SELECT m.match_id, i.invoice_id FROM fct_match AS m JOIN fct_invoice AS i ON i.entity = m.entity "
            "AND i.invoice_id <> m.invoice_id AND i.doc_type = 'invoice' "
            "WHERE m.state = 'auto' AND m.rule = 'exact_reference' ORDER BY m.match_id, i.invoice_id LIMIT 1")[0]
        engine.execute("UPDATE fct_match SET invoice_id = :i WHERE match_id = :m", {"i": victim[1], "m": victim[0]})
        after = score(engine, truth)
    assert after.wrong_pairs == before.wrong_pairs + 1
    assert after.payments_correct == before.payments_correct - 1
