"""Tables the reconciliation owns, created through the engine seam.

Contract tables come from :mod:`warehouse.schema`; ``fct_match`` carries
``adjustment`` and ``adjustment_reason`` (declared in the contract): the
remainder a short payment closed and why, so ``amount_applied`` stays the cash
actually received. Work tables (``rc_*``) are temporary: they live for one
run on one connection and never reach the dataset.
"""

from __future__ import annotations

from collections.abc import Sequence

from warehouse.contract import BOOL, CONTRACT, DATE, INT, MONEY, RATIO, TEXT, TS
from warehouse.engine import Engine
from warehouse.schema import ensure_contract, ensure_table
from warehouse.shapes import SHAPES

# Bookkeeping for incremental runs: what each payment and invoice looked like last time, as a
# 63-bit hash of the row with its id (run._row_hash). A ``fingerprint`` column left by an older
# version stays unused.
PAYMENT_STATE: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("payment_id", TEXT), ("row_hash", INT), ("reconciled_at", TS),
)
INVOICE_STATE: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("invoice_id", TEXT), ("row_hash", INT), ("reconciled_at", TS),
)
# Reference keys of every invoice (sql/10_inputs.sql), kept between runs: an incremental
# run keys only new or changed invoices instead of a regular-expression pass over the book.
# One row per invoice, one column per key kind (k1 exact .. k4 tail, references.py), NULL when
# the number has none: a layout stacked by kind (columns ``kind``, ``k``) wrote four times the rows.
INVOICE_KEY: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("invoice_id", TEXT), ("customer_id", TEXT), ("currency", TEXT),
    ("k1", TEXT), ("k2", TEXT), ("k3", TEXT), ("k4", TEXT),
)
# Keys of the other numbers the ERP keeps for a document (int_invoice_aliases): exact and normalized,
# rebuilt every run (few rows), looked up only for tokens that named no invoice number (kind 5).
INVOICE_ALIAS_KEY: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("invoice_id", TEXT), ("customer_id", TEXT), ("currency", TEXT), ("k1", TEXT), ("k2", TEXT),
)
# What an unresolved payment (open exception or suggestion) could reach when it was last
# reconciled: its candidate customers ('customer'), its payer's account ('iban'), the amount an
# unknown payer may match alone ('amount'); one 'self' row says the reach is recorded. An
# incremental run re-runs such a payment only when something it can reach moved, not every night.
PAYMENT_REACH: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("payment_id", TEXT), ("kind", TEXT), ("value", TEXT),
)
# Customer names normalised for the residue's name matching (warehouse/reconcile/names.py),
# with the legal forms they were normalised with: only new or renamed customers are redone.
CUSTOMER_NAME: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("customer_id", TEXT), ("name", TEXT), ("forms", TEXT), ("normalized", TEXT),
)
# context_hash: customers, payer aliases, refunds and banked payouts as of the run; when they
# change, every unresolved payment is re-run (a new alias or IBAN can identify any payer).
# payments_digest / invoices_digest: row count and sum of the kept row hashes of fct_payment /
# int_invoices; the invoices' equal next time means no invoice changed, and their row-by-row
# comparison is skipped (payments are compared every run: nearly every night brings new ones).
RUN_STATE: tuple[tuple[str, str], ...] = (
    ("entity", TEXT), ("as_of", DATE), ("rules_hash", TEXT), ("finished_at", TS), ("context_hash", TEXT),
    ("payments_digest", TEXT), ("invoices_digest", TEXT),
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
        # raised and at once closed: what it was about has since been settled (a failed debit whose
        # invoice the customer paid again); the payment still ends in its exception, resolved
        ("settled", BOOL),
        # the one customer the residue found the payer to be, when the payment itself names none (an unknown
        # account whose name or remittance says who pays): its unapplied cash is that customer's credit
        ("customer_id", TEXT),
    ),
    "rc_blocked": (("entity", TEXT), ("payment_id", TEXT), ("invoice_id", TEXT), ("rejected", BOOL)),
    "rc_resolved": (("exception_id", TEXT), ("resolved_at", TS)),
    "rc_scope": (("entity", TEXT), ("payment_id", TEXT)),
    # what the residue can touch: only these open items are read into Python
    "rc_need_cust": (("customer_id", TEXT),),
    "rc_need_amt": (("amount", MONEY),),
    "rc_need_inv": (("invoice_id", TEXT),),
    "rc_need_name": (("name", TEXT),),  # normalised payer names the residue looks up (names.CustomerNames)
    # invoices new, changed or gone since the last run (incremental runs), and those whose state may move
    "rc_inv_changed": (("invoice_id", TEXT),),
    "rc_affected": (("invoice_id", TEXT),),
    # what the residue says each of its payments could reach (see PAYMENT_REACH), and what this
    # run moved (customers, accounts, amounts) for the incremental scope's closure
    "rc_reach": (("payment_id", TEXT), ("kind", TEXT), ("value", TEXT)),
    "rc_touch": (("kind", TEXT), ("value", TEXT)),
    # every payment's and invoice's row hash now (change detection, then the state kept for next time)
    "rc_pay_h": (("payment_id", TEXT), ("h", INT)),
    "rc_inv_h": (("invoice_id", TEXT), ("h", INT)),
    # invoices an incremental run's partial rc_inv must hold or gain (10_inputs, 20_candidates, 34_residue_book)
    "rc_inv_need": (("invoice_id", TEXT),),
    # credit notes issued for a refund that the ERP did not letter, with the invoice the refunded
    # payment paid (10_inputs; 15_credit_notes applies them, 50_exceptions closes the refund)
    "rc_refund_cn": (("payment_id", TEXT), ("refunded", MONEY), ("invoice_id", TEXT), ("cn_id", TEXT),
                     ("cn_number", TEXT)),
    # credit notes the ERP did not letter that name their invoice in their own text (10_inputs; 15_credit_notes)
    "rc_named_cn": (("cn_id", TEXT), ("invoice_id", TEXT), ("cn_number", TEXT)),
}


def _tables() -> dict[str, Sequence[tuple[str, str]]]:
    from warehouse.reconcile.decisions import Decision, PayerAlias, model_columns

    return {**{t.name: t.columns for t in CONTRACT}, "int_erp_settlements": SHAPES["erp_settlements"],
            "int_erp_receipts": SHAPES["erp_receipts"], "int_invoice_aliases": SHAPES["invoice_aliases"],
            "int_payment_refunds": SHAPES["payment_refunds"],
            "int_credit_note_refunds": SHAPES["credit_note_refunds"],
            "int_invoice_balance_applications": SHAPES["invoice_balance_applications"],
            "int_erp_credit_applications": SHAPES["erp_credit_applications"],
            "reconcile_invoice_alias_key": INVOICE_ALIAS_KEY, "reconcile_payment_state": PAYMENT_STATE,
            "reconcile_invoice_state": INVOICE_STATE, "reconcile_run": RUN_STATE, "reconcile_invoice_key": INVOICE_KEY,
            "reconcile_payment_reach": PAYMENT_REACH, "reconcile_customer_name": CUSTOMER_NAME,
            "decision": model_columns(Decision), "payer_alias": model_columns(PayerAlias)}


def _all_present(engine: Engine) -> bool:
    """Every table this module ensures exists with all its columns (the stacked key layout gone):
    one catalogue query, where ensuring them table by table costs one each (~40 ms a run)."""
    have: dict[str, set[str]] = {}
    for table, column in engine.query("SELECT table_name, column_name FROM information_schema.columns "
                                      "WHERE table_schema = :schema", {"schema": engine.dataset}):
        have.setdefault(str(table), set()).add(str(column))
    if "kind" in have.get("reconcile_invoice_key", set()):
        return False
    return all({c for c, _ in cols} <= have.get(name, set()) for name, cols in _tables().items())


def ensure_reconcile_tables(engine: Engine) -> None:
    """Contract tables, reconciliation's extra columns, decisions, aliases and state (idempotent)."""
    from warehouse.reconcile.decisions import ensure_decision_tables

    if _all_present(engine):
        return
    ensure_contract(engine)
    # built by warehouse/models/core; empty until a build ran (a book written straight to the tables)
    ensure_table(engine, "int_erp_settlements", SHAPES["erp_settlements"])
    ensure_table(engine, "int_erp_receipts", SHAPES["erp_receipts"])
    ensure_table(engine, "int_invoice_aliases", SHAPES["invoice_aliases"])
    ensure_table(engine, "int_payment_refunds", SHAPES["payment_refunds"])
    ensure_table(engine, "int_credit_note_refunds", SHAPES["credit_note_refunds"])
    ensure_table(engine, "int_invoice_balance_applications", SHAPES["invoice_balance_applications"])
    ensure_table(engine, "int_erp_credit_applications", SHAPES["erp_credit_applications"])
    ensure_table(engine, "reconcile_invoice_alias_key", INVOICE_ALIAS_KEY)
    ensure_table(engine, "reconcile_payment_state", PAYMENT_STATE)
    ensure_table(engine, "reconcile_invoice_state", INVOICE_STATE)
    ensure_table(engine, "reconcile_run", RUN_STATE)
    if "kind" in engine.columns("reconcile_invoice_key"):  # the stacked layout of state version 4: a cache,
        engine.execute("DROP TABLE reconcile_invoice_key")  # rebuilt by the full run the version bump forces
    ensure_table(engine, "reconcile_invoice_key", INVOICE_KEY)
    ensure_table(engine, "reconcile_payment_reach", PAYMENT_REACH)
    ensure_table(engine, "reconcile_customer_name", CUSTOMER_NAME)
    ensure_decision_tables(engine)


def create_work_tables(engine: Engine) -> None:
    """(Re)create the empty temporary work tables of one run."""
    for name, columns in WORK_TABLES.items():
        cols = ", ".join(f'"{c}" {engine.type_of(t)}' for c, t in columns)
        engine.execute(f'DROP TABLE IF EXISTS "{name}"')
        engine.execute(f'CREATE TEMP TABLE "{name}" ({cols})')


def drop_work_tables(engine: Engine) -> None:
    for name in (*WORK_TABLES, "rc_inv", "rc_inv_key", "rc_pay", "rc_tok", "rc_hit", "rc_cand", "rc_pstat",
                 "rc_alloc", "rc_alloc_all", "rc_corr", "rc_uncorr", "rc_payer", "rc_complex", "rc_short", "rc_erp", "rc_erp_listed",
                 "rc_exc_final", "rc_old_match", "rc_open", "rc_residue", "rc_alloc_x",
                 "rc_payer_f", "rc_tok_k", "rc_old", "rc_moved", "rc_gone", "rc_tok_cn"):
        engine.execute(f'DROP TABLE IF EXISTS "{name}"')
