"""Is the warehouse already built from exactly these inputs?

A second nightly run that loads nothing new would rebuild, reconcile and refresh
the marts to the very same rows. The build fingerprint names every input of
those steps — the reporting date, dlt's completed loads, human decisions,
factoring assignments, the mappings and the SQL models — so the flow can skip
them when nothing moved, and can never skip them when something did.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

from warehouse.engine import Engine
from warehouse.schema import ensure_table

STATE_TABLE = "lettrage_build_state"
_INPUT_QUERIES: dict[str, str] = {
    "decision": "SELECT count(*), max(created_at) FROM decision",
    "fct_factoring_assignment": "SELECT count(*), max(assigned_on), max(status) FROM fct_factoring_assignment",
}
_TREES = (Path(__file__).resolve().parent.parent / "mappings", Path(__file__).resolve().parent / "models",
          Path(__file__).resolve().parent / "reconcile")


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in {".yaml", ".yml", ".sql", ".jinja", ".py"}):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _raw_state(engine: Engine) -> list[tuple[object, ...]]:
    """Rows and the newest dlt load of every raw table.

    Not ``_dlt_loads``: a source whose incremental state moved without a single new row
    (a sliding events window) still writes a load there, which would defeat the point.
    """
    tables = engine.query(
        "SELECT table_name FROM information_schema.columns WHERE table_schema = :schema "
        "AND column_name = '_dlt_load_id' AND table_name LIKE 'raw%' ORDER BY table_name",
        {"schema": engine.dataset},
    )
    return [(t, *engine.query(f'SELECT count(*), max(_dlt_load_id) FROM "{t}"')[0]) for (t,) in tables]


def build_fingerprint(engine: Engine, as_of: date) -> str:
    """A digest of everything the build, reconciliation and marts read."""
    digest = hashlib.sha256(as_of.isoformat().encode())
    digest.update(repr(_raw_state(engine)).encode())
    for table, sql in _INPUT_QUERIES.items():
        # A missing table and an empty one are the same input: the first build creates the
        # (empty) decision and factoring tables, which must not make the next run rebuild.
        state = engine.query(sql)[0] if engine.table_exists(table) else (0,)
        digest.update(f"{table}={state if state[0] else (0,)!r};".encode())
    for root in _TREES:
        if root.exists():
            digest.update(_tree_digest(root).encode())
    return digest.hexdigest()


def last_fingerprint(engine: Engine) -> str | None:
    if not engine.table_exists(STATE_TABLE):
        return None
    rows = engine.query(f'SELECT fingerprint FROM "{STATE_TABLE}" WHERE id = 1')
    return str(rows[0][0]) if rows else None


def record_fingerprint(engine: Engine, fingerprint: str) -> None:
    ensure_table(engine, STATE_TABLE, (("id", "bigint"), ("fingerprint", "text"), ("built_at", "timestamptz")))
    with engine.transaction():
        engine.execute(f'DELETE FROM "{STATE_TABLE}" WHERE id = 1')
        engine.execute(f'INSERT INTO "{STATE_TABLE}" (id, fingerprint, built_at) VALUES (1, :fp, now())',
                       {"fp": fingerprint})
