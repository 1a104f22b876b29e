"""Every table and column of shared/CONTRACT.md exists with its stated type, on both engines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lettrage.config import WarehouseConfig
from warehouse.contract import CONTRACT
from warehouse.engine import connect
from warehouse.schema import ensure_contract

# What information_schema reports for each logical type, per engine.
EXPECTED_TYPES: dict[str, dict[str, str]] = {
    "duckdb": {
        "text": "VARCHAR", "money": "DECIMAL(18,2)", "date": "DATE", "timestamptz": "TIMESTAMP WITH TIME ZONE",
        "bool": "BOOLEAN", "bigint": "BIGINT", "ratio": "DECIMAL(9,4)", "days": "DECIMAL(9,2)",
    },
    "postgres": {
        "text": "text", "money": "numeric(18,2)", "date": "date", "timestamptz": "timestamp with time zone",
        "bool": "boolean", "bigint": "bigint", "ratio": "numeric(9,4)", "days": "numeric(9,2)",
    },
}
CONTRACT_MD = Path(__file__).resolve().parents[3].parent / "shared" / "CONTRACT.md"


def _introspect(engine) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    rows = engine.query(
        "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale "
        "FROM information_schema.columns WHERE table_schema = :schema",
        {"schema": engine.dataset},
    )
    found: dict[str, dict[str, str]] = {}
    for table, column, data_type, precision, scale in rows:
        kind = str(data_type)
        if engine.name == "postgres" and kind == "numeric":
            kind = f"numeric({precision},{scale})"
        found.setdefault(str(table), {})[str(column)] = kind
    return found


def test_every_contract_table_and_column_exists_with_its_type(warehouse_config: WarehouseConfig) -> None:
    with connect(warehouse_config) as engine:
        ensure_contract(engine)
        ensure_contract(engine)  # idempotent
        found = _introspect(engine)
    expected_types = EXPECTED_TYPES["duckdb" if warehouse_config.engine == "duckdb" else "postgres"]
    problems = []
    for table in CONTRACT:
        columns = found.get(table.name)
        if columns is None:
            problems.append(f"missing table {table.name}")
            continue
        for column, kind in table.columns:
            if column not in columns:
                problems.append(f"{table.name}.{column} missing")
            elif columns[column] != expected_types[kind]:
                problems.append(f"{table.name}.{column}: {columns[column]} != {expected_types[kind]}")
    assert problems == []


@pytest.mark.skipif(not CONTRACT_MD.exists(), reason="shared/CONTRACT.md not beside the repo")
def test_contract_declaration_covers_every_name_in_contract_md() -> None:
    """The Python declaration names every table and key column that CONTRACT.md lists."""
    text = CONTRACT_MD.read_text(encoding="utf-8")
    declared = {t.name: set(t.column_names) for t in CONTRACT}
    for line in text.splitlines():
        m = re.match(r"\|\s*`((?:dim|fct|mart)_\w+)`\s*\|(.*)", line)
        if not m:
            continue
        table, rest = m.group(1), m.group(2)
        assert table in declared, f"{table} of CONTRACT.md is not declared"
        for col in re.findall(r"`(\w+)`", rest):
            if col in {"invoice", "credit_note", "stripe", "gocardless", "bank_transfer", "erp", "succeeded",
                       "pending", "failed", "charged_back", "refunded", "auto", "suggested", "confirmed",
                       "rejected", "unmatched_payment", "ambiguous", "amount_mismatch", "overpayment",
                       "failed_debit", "chargeback", "payout_mismatch", "not_due", "1_30", "31_60", "61_90",
                       "over_90", "punctual", "occasional_late", "chronic_late", "at_risk", "30", "60", "90",
                       "paid", "credited", "overdue", "disputed", "partially_paid", "mappings", "amount_eur"} \
                    or col.startswith(("mart_", "fct_", "dim_")):
                continue
            assert col in declared[table] or col in {"vat_id", "siren"}, f"{table}.{col} of CONTRACT.md not declared"
