"""Indexes the desk's pages need on Postgres, created once when the desk starts.

The contract tables carry no index (bulk loads and set-based SQL do not want
them), but the desk asks narrow questions of them on every click: the
suggestions of one entity, the open items of one entity in due-date order, one
payment by id. Without these a work queue over a million invoices scans every
row. All are ``IF NOT EXISTS`` and on columns of the contract, so they survive
the nightly DELETE + INSERT refreshes. DuckDB needs none (zone maps suffice at
the demo's scale, and ART indexes slow its bulk writes), so nothing is created there.
This belongs with the warehouse's DDL in the long run; it lives here until then.
"""

from __future__ import annotations

from warehouse.engine import Engine

POSTGRES_INDEXES: tuple[tuple[str, str, str], ...] = (
    ("desk_match_suggested", "fct_match", "(entity, match_id) WHERE state = 'suggested'"),
    ("desk_match_payment", "fct_match", "(entity, payment_id)"),
    ("desk_match_invoice", "fct_match", "(entity, invoice_id)"),
    ("desk_payment_id", "fct_payment", "(entity, payment_id)"),
    ("desk_invoice_id", "fct_invoice", "(entity, invoice_id)"),
    ("desk_invoice_open", "fct_invoice",
     "(entity, due_date, invoice_id) WHERE amount_open <> 0 AND status NOT IN ('paid', 'credited', 'written_off')"),
    ("desk_invoice_customer", "fct_invoice", "(entity, customer_id)"),
    ("desk_exception_open", "fct_reconciliation_exception", "(entity) WHERE resolved_at IS NULL"),
    ("desk_customer_id", "dim_customer", "(entity, customer_id)"),
    ("desk_mart_open_entity", "mart_open_receivables", "(entity)"),
    ("desk_mart_aged_entity", "mart_aged_balance", "(entity)"),
    # who works on which queue row, an invoice's decisions, the disputes assigned to someone
    ("desk_decision_payment", "decision", "(entity, payment_id)"),
    ("desk_decision_invoice", "decision", "(entity, invoice_id)"),
    ("desk_decision_kind", "decision", "(kind, entity)"),
)


def ensure_desk_indexes(engine: Engine) -> list[str]:
    """Create the missing indexes (Postgres only); returns the names created."""
    if engine.name != "postgres":
        return []
    created = []
    existing = {str(r[0]) for r in engine.query(
        "SELECT indexname FROM pg_indexes WHERE schemaname = :s", {"s": engine.dataset})}
    for name, table, spec in POSTGRES_INDEXES:
        if name in existing or not engine.table_exists(table):
            continue
        engine.execute(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" {spec}')
        created.append(name)
    if created:
        engine.execute("ANALYZE")
    return created
