"""Tables the reconciliation owns, created through the engine seam.

Contract tables come from :mod:`warehouse.schema`; ``fct_match`` carries
``adjustment`` and ``adjustment_reason`` (declared in the contract): the
remainder a short payment closed and why, so ``amount_applied`` stays the cash
actually received. Work tables (``rc_*``) are temporary: they live for one
run on one connection and never reach the dataset.
"""

from __future__ import annotations

from warehouse.contract import BOOL, DATE, INT, MONEY, RATIO, TEXT, TS
from warehouse.engine import Engine
from warehouse.schema import ensure_contract, ensure_table


# Bookkeeping for incremental runs: what each payment and invoice looked like last time.
PAYMENT_STATE: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("payment_id", TEXT), ("fingerprint", TEXT), ("reconciled_at", TS),
)
INVOICE_STATE: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("invoice_id", TEXT), ("fingerprint", TEXT), ("reconciled_at", TS),
)
# Reference keys of every invoice (sql/10_inputs.sql), kept between runs: an incremental
# run keys only new or changed invoices instead of a regular-expression pass over the book.
INVOICE_KEY: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("invoice_id", TEXT), ("customer_id", TEXT), ("currency", TEXT), ("kind", INT), ("k", TEXT),
)
RUN_STATE: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("as_of", DATE), ("rules_hash", TEXT), ("finished_at", TS),
)

_MATCH_COLS = (
    ("entity", TEXT), ("match_id", TEXT), ("payment_id", TEXT), ("invoice_id", TEXT),
    ("amount_applied", MONEY), ("adjustment", MONEY), ("adjustment_reason", TEXT), ("currency", TEXT),
    ("rule", TEXT), ("confidence", RATIO), ("explanation", TEXT), ("state", TEXT), ("paid_on", DATE),
)
WORK_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "rc_match": _MATCH_COLS,
    "rc_fixed": _MATCH_COLS + (("origin", TEXT),),
    "rc_exc": (
        ("entity", TEXT), ("kind", TEXT), ("payment_id", TEXT), ("invoice_id", TEXT), ("payout_id", TEXT),
        ("bank_line_id", TEXT), ("amount", MONEY), ("currency", TEXT), ("detail", TEXT),
    ),
    "rc_blocked": (("entity", TEXT), ("payment_id", TEXT), ("invoice_id", TEXT), ("rejected", BOOL)),
    "rc_resolved": (("exception_id", TEXT), ("resolved_at", TS)),
    "rc_scope": (("entity", TEXT), ("payment_id", TEXT)),
    # what the residue can touch: only these open items are read into Python
    "rc_need_cust": (("customer_id", TEXT),),
    "rc_need_amt": (("amount", MONEY),),
    "rc_need_inv": (("invoice_id", TEXT),),
    # invoices new, changed or gone since the last run (incremental runs), and those whose state may move
    "rc_inv_changed": (("invoice_id", TEXT),),
    "rc_affected": (("invoice_id", TEXT),),
}


def ensure_reconcile_tables(engine: Engine) -> None:
    """Contract tables, reconciliation's extra columns, decisions, aliases and state (idempotent)."""
    from warehouse.reconcile.decisions import ensure_decision_tables

    ensure_contract(engine)
    ensure_table(engine, "reconcile_payment_state", PAYMENT_STATE)
    ensure_table(engine, "reconcile_invoice_state", INVOICE_STATE)
    ensure_table(engine, "reconcile_run", RUN_STATE)
    ensure_table(engine, "reconcile_invoice_key", INVOICE_KEY)
    ensure_decision_tables(engine)


def create_work_tables(engine: Engine) -> None:
    """(Re)create the empty temporary work tables of one run."""
    for name, columns in WORK_TABLES.items():
        cols = ", ".join(f'"{c}" {engine.type_of(t)}' for c, t in columns)
        engine.execute(f'DROP TABLE IF EXISTS "{name}"')
        engine.execute(f'CREATE TEMP TABLE "{name}" ({cols})')


def drop_work_tables(engine: Engine) -> None:
    for name in (*WORK_TABLES, "rc_inv", "rc_inv_key", "rc_pay", "rc_tok", "rc_hit", "rc_cand", "rc_pstat",
                 "rc_alloc", "rc_alloc_all", "rc_corr", "rc_uncorr", "rc_payer", "rc_complex", "rc_short", "rc_erp",
                 "rc_exc_final", "rc_old_match", "rc_open", "rc_residue", "rc_inv_kw", "rc_tok_w", "rc_alloc_x"):
        engine.execute(f'DROP TABLE IF EXISTS "{name}"')
