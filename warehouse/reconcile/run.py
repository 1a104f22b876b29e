"""One reconciliation run: decisions, set-based cascade, residue, exceptions, invoice state.

    decisions ──▶ rc_fixed / rc_blocked          (confirmed + rejected pairs, never overwritten)
    int_invoices, fct_payment ──▶ 10 inputs ──▶ 15 credit notes ──▶ 20 candidates ──▶ 30 allocate
    residue (Python, batched) ──▶ 40 short-payment tolerance ──▶ 50 exceptions ──▶ 55 ERP evidence
    ──▶ 60 fct_match ──▶ 62 ERP-settled invoices without payment ──▶ 64 exceptions ──▶ 70 fct_invoice

Runs one entity at a time (tolerances may differ per entity) on one connection;
work tables are temporary. ``incremental=True`` re-reconciles only payments that
are new or changed, touched by a decision or whose invoices changed, and the
unresolved ones (open exception, suggestion) that can reach what moved: the
customers, payer accounts and open amounts the run changed (``reconcile_payment_reach``,
closed over until nothing new is reached); everything else keeps its matches.
Such a run finds changes by row hashes (one anti-join per table, the invoices' skipped when
their digest is unchanged) and computes open amounts only for the invoices it can read or
move (a partial ``rc_inv``; see sql/10_inputs.sql, 20_candidates.sql, 34_residue_book.sql).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import jinja2

from mappings.matching import MatchingRules, load_matching_rules
from warehouse import sql as sqlmod
from warehouse.engine import Engine
from warehouse.locks import named_lock
from warehouse.reconcile import residue, residue_load
from warehouse.reconcile.bulk import insert_rows
from warehouse.reconcile.decisions import load_decisions, open_disputes_sql
from warehouse.reconcile.erp import ERP_MOVEMENTS
from warehouse.reconcile.references import KIND_RULE, sql_key_macros
from warehouse.reconcile.schema import create_work_tables, drop_work_tables, ensure_reconcile_tables
from warehouse.sql import REFUND_KINDS, refunded_by_payment

log = logging.getLogger("lettrage.reconcile")
SQL_DIR = Path(__file__).parent / "sql"
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


@dataclass(frozen=True)
class _Hashed:
    """A table whose rows a run tells apart by row hash: what it hashes, where the run puts the
    hashes (``hashes``, a work table) and where it keeps them for the next run (``state``)."""

    table: str
    key: str
    cols: tuple[str, ...]  # read as ``x``
    hashes: str
    state: str

    def rows(self, engine: Engine) -> str:
        """SQL: this entity's rows as (``key``, row hash ``h``)."""
        return f"SELECT x.{self.key}, {_row_hash(engine, self.cols)} AS h FROM {self.table} AS x WHERE x.entity = :entity"


_PAYMENTS = _Hashed("fct_payment", "payment_id",
                    ("x.payment_id", "x.amount", "x.status", "x.reference", "x.customer_id", "x.payer_iban",
                     "x.payer_name", "x.currency", "x.paid_on", "x.channel"),
                    hashes="rc_pay_h", state="reconcile_payment_state")
_INVOICES = _Hashed("int_invoices", "invoice_id",
                    ("x.invoice_id", "x.invoice_number", "x.amount_total", "x.customer_id", "x.currency", "x.due_date",
                     "x.erp_lettrage", "x.doc_type", "x.issue_date", "x.disputed", "x.erp_amount_open"),
                    hashes="rc_inv_h", state="reconcile_invoice_state")


def _rows_of(engine: str, table: str, key: str, ids: str) -> str:
    """The rows of ``table`` whose ``key`` is among ``ids`` (a SELECT), as a derived table to read ``AS`` an alias.

    Why not ``key IN (ids)`` on the table itself: DuckDB then reads every column of every row
    before the semi-join drops all but a few. Finding the few rows' ``rowid`` reads the key column
    alone, and DuckDB then fetches just those rows (one statement, so one snapshot of the table).
    Measured on 10,000 scattered invoices of a million: 0.04 s instead of 0.07 s, and an
    incremental run reads such a subset five times. (As a filter in the outer WHERE instead, DuckDB
    joined the other tables first: 0.21 s.) Postgres plans the plain semi-join well and has no rowid.
    """
    if engine == "duckdb":
        return f"(SELECT * FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {key} IN ({ids})))"
    return f"(SELECT * FROM {table} WHERE {key} IN ({ids}))"


def _row_hash(engine: Engine, cols: tuple[str, ...]) -> str:
    """A 63-bit integer saying what a row (its id included) looked like, to find new or changed rows.

    The id is hashed with the row so a change shows as a hash the last run never stored: finding
    changes is then an anti-join on one integer column, not a join on ids plus a text comparison
    (~3x cheaper over a million rows). DuckDB's native ``hash`` is vectorised; Postgres keeps md5,
    its first 64 bits as a bigint. A DuckDB upgrade that changed ``hash`` would only make one
    incremental run take every row, never miss one.
    """
    if engine.name == "duckdb":
        return f"CAST(hash({', '.join(cols)}) >> 1 AS BIGINT)"
    row = " || '|' || ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in cols)
    return f"('x' || substr(md5({row}), 1, 16))::bit(64)::bigint"


@dataclass
class ReconcileSummary:
    """What a run did, for logs, flows and benchmarks."""

    entities: list[str] = field(default_factory=list)
    incremental: bool = False
    payments_in_scope: int = 0
    residue_payments: int = 0
    matches: dict[str, int] = field(default_factory=dict)      # by state
    rules: dict[str, int] = field(default_factory=dict)        # by rule
    exceptions: dict[str, int] = field(default_factory=dict)   # open, by kind
    timings: dict[str, float] = field(default_factory=dict)    # seconds per step
    seconds: float = 0.0


def _statements(text: str) -> list[str]:
    return [s.strip() for s in re.split(r";\s*(?:\n|$)", text) if s.strip() and not _only_comments(s)]


def _only_comments(stmt: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in stmt.splitlines())


_PROFILE = bool(os.environ.get('LETTRAGE_PROFILE_SQL'))


class _Runner:
    def __init__(self, engine: Engine, rules: MatchingRules, context: dict[str, Any], params: dict[str, Any],
                 summary: ReconcileSummary) -> None:
        self.engine, self.rules, self.context, self.params, self.summary = engine, rules, context, params, summary
        self.macros = sql_key_macros(rules.reference.prefixes, rules.reference.remittance_tags,
                                     rules.reference.credit_note_words)

    def run_file(self, name: str) -> None:
        started = time.perf_counter()
        context = {"engine": self.engine.name, **self.context}
        header = _header(self.macros).make_module(context)  # the macros, bound to this run's context
        macros = {k: v for k, v in vars(header).items() if isinstance(v, jinja2.runtime.Macro)}
        rendered = _template(name).render(**context, **macros)
        for stmt in _statements(rendered):
            used = {k: v for k, v in self.params.items() if k in set(_PARAM.findall(stmt))}
            t0 = time.perf_counter()
            self.engine.execute(stmt, used or None)
            if _PROFILE:
                print(f"    {time.perf_counter() - t0:7.3f}s {name}: {' '.join(stmt.split())[:110]}", file=sys.stderr)
        step = name.split(".")[0]
        self.summary.timings[step] = self.summary.timings.get(step, 0.0) + time.perf_counter() - started


_JINJA = sqlmod.environment()


@lru_cache(maxsize=16)
def _header(macros: str) -> jinja2.Template:
    """The macros every step uses (``warehouse.sql``'s and ours), compiled once per process.

    Compiled in front of each of the twelve files, they were ~80 ms of jinja per process,
    more than some of the steps themselves in an incremental run.
    """
    return _JINJA.from_string(sqlmod.MACROS + macros + _TOLERANCE_MACRO + _INVOICE_MACRO + _PAIR_MACRO
                              + _ERP_SETTLED_MACRO + _ANALYZE_MACRO)


@lru_cache(maxsize=64)
def _template(name: str) -> jinja2.Template:
    """One step's SQL, compiled once per process; rendered with the macros of :func:`_header`."""
    return _JINJA.from_string((SQL_DIR / name).read_text(encoding="utf-8"))


# rc_inv's rows: invoices with what is already consumed (decisions; in an incremental run also the
# kept matches of payments out of scope), for every invoice or only the ids ``only`` selects.
# One definition for 10_inputs, which builds rc_inv, and for the steps that widen an incremental
# run's partial book (20_candidates, 34_residue_book).
_INVOICE_MACRO = r"""
{% macro invoice_rows(only) -%}
SELECT
    i.entity, i.invoice_id, i.invoice_number, i.customer_id, i.doc_type, i.issue_date, i.due_date,
    upper(i.currency) AS currency,
    CAST(i.amount_total AS DECIMAL(18,2)) AS amount_total,
    CAST(i.amount_total - coalesce(f.consumed, 0) AS DECIMAL(18,2)) AS open0,
    upper(trim(coalesce(i.invoice_number, ''))) AS num_u,
    i.erp_lettrage, i.erp_amount_open, coalesce(i.disputed, false) AS disputed
FROM {% if only %}{{ rows_of(invoices_table, 'invoice_id', only) }}{% else %}{{ invoices_table }}{% endif %} AS i
LEFT JOIN (
    SELECT invoice_id, sum(amount_applied + coalesce(adjustment, 0)) AS consumed
    FROM (
        SELECT invoice_id, amount_applied, adjustment FROM rc_fixed WHERE state IN ('auto', 'confirmed')
        {% if incremental %}
        UNION ALL
        -- matches kept from earlier runs (payments out of scope)
        SELECT m.invoice_id, m.amount_applied, m.adjustment FROM fct_match AS m
        WHERE m.entity = :entity AND m.state = 'auto' AND m.rule NOT IN {{ reapplied }}
          AND NOT EXISTS (SELECT 1 FROM rc_scope AS sc WHERE sc.payment_id = m.payment_id)
          {% if only %}AND m.invoice_id IN ({{ only }}){% endif %}
        {% endif %}
    ) AS c
    GROUP BY invoice_id
) AS f ON f.invoice_id = i.invoice_id
WHERE i.invoice_id IS NOT NULL AND i.entity = :entity
{%- endmacro %}
"""

# Whether the ERP shows invoice ``i`` settled: nothing open there (SAP), or, for an ERP that gives no
# open amount (a FEC), a balanced lettrage code with its receipt (int_erp_settlements; a partial
# lettering is not a settlement). One definition for 40_adjust and 62_erp_invoices.
_ERP_SETTLED_MACRO = r"""
{% macro erp_settled(i) -%}
({{ i }}.erp_amount_open = 0 OR ({{ i }}.erp_amount_open IS NULL AND {{ i }}.invoice_id IN (
    SELECT s.invoice_id FROM int_erp_settlements AS s WHERE s.entity = :entity)))
{%- endmacro %}
{#- the credit notes the ERP applied to invoices by amount: 15_credit_notes sets them against those invoices for
    those amounts, so 10_inputs and the code-lettering of 15 leave them out -#}
{% macro erp_applied_cns() -%}
SELECT cn_id FROM int_erp_credit_applications WHERE entity = :entity
{%- endmacro %}
"""

# Postgres: statistics for a table a step just filled, before the next statement reads it. Autovacuum never
# analyses temporary tables (and a persistent one only a minute later): without statistics the planner takes them
# for a few rows and nested-loops them (90 s for one statement at 94,000 payments). ``full_only``: an output an
# incremental run changes little keeps good statistics. Nothing on DuckDB, which keeps its own as it writes.
_ANALYZE_MACRO = r"""
{% macro analyze(table, full_only=False) -%}
{% if engine == 'postgres' and not (full_only and incremental) %}ANALYZE {{ table }};{% endif %}
{%- endmacro %}
"""

# Two values of a row as a list, to unnest one row into two (both engines).
_PAIR_MACRO = r"""
{% macro pair(a, b) -%}
{% if engine == 'duckdb' %}[{{ a }}, {{ b }}]{% else %}ARRAY[{{ a }}, {{ b }}]{% endif %}
{%- endmacro %}
"""

# A shortfall ``d`` that may close invoices of ``total`` (mirror of residue.within_tolerance).
_TOLERANCE_MACRO = r"""
{% macro within_tolerance(d, total, paid_on, issued) -%}
(({{ d }}) > 0 AND (({{ d }}) <= {{ tol.rounding_abs }}
  OR (({{ d }}) <= {{ tol.bank_charges_abs }} AND ({{ d }}) <= ({{ total }}) * {{ tol.bank_charges_pct }} / 100)
  {% for pct in tol.early_discount_pct %}
  OR ({{ paid_on }} <= {{ issued }} + {{ tol.early_discount_days }}
      AND abs(({{ d }}) - round(({{ total }}) * {{ pct }} / 100, 2)) <= {{ tol.discount_slack_abs }})
  {% endfor %}))
{%- endmacro %}
"""


# Bumped when what the run keeps between runs changes (v3: reconcile_invoice_key, hashed fingerprints; v4: row
# hashes with the id and table digests; v5: reconcile_invoice_key one row per invoice, a column per
# key kind), so the first run after an upgrade is a full one.
_STATE_VERSION = "5"


# An incremental run whose scope keeps growing (each pass reaching more unresolved payments) takes
# every unresolved payment on its last pass, so it always ends.
_MAX_CLOSURE_PASSES = 3


def _rules_hash(rules: MatchingRules) -> str:
    return hashlib.md5((_STATE_VERSION + rules.model_dump_json()).encode()).hexdigest()


def _decision_rows(decisions: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Latest confirm/reject per pair -> fixed match rows and blocked pairs; resolutions."""
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    resolved: list[dict[str, Any]] = []
    for d in decisions:  # ordered by created_at
        if d["kind"] in ("confirm_match", "reject_match") and d["payment_id"] and d["invoice_id"]:
            latest[(d["entity"], d["payment_id"], d["invoice_id"])] = d
        elif d["kind"] == "resolve_exception" and d["exception_id"]:
            resolved.append({"exception_id": d["exception_id"], "resolved_at": d["created_at"]})
    fixed, blocked = [], []
    for (entity, payment_id, invoice_id), d in latest.items():
        before = json.loads(d["before_json"]) if d["before_json"] else {}
        confirmed = d["kind"] == "confirm_match"
        verb = "confirmed" if confirmed else "rejected"
        fixed.append({
            "entity": entity, "match_id": d["match_id"] or residue.match_id(entity, payment_id, invoice_id, "manual"),
            "payment_id": payment_id, "invoice_id": invoice_id,
            "amount_applied": Decimal(str(d["amount"] if d["amount"] is not None else before.get("amount_applied", "0"))),
            "adjustment": Decimal(str(before.get("adjustment") or "0")) if confirmed else Decimal("0"),
            "adjustment_reason": before.get("adjustment_reason") if confirmed else None,
            "currency": before.get("currency"), "rule": before.get("rule") or "manual",
            "confidence": Decimal("1") if confirmed else Decimal("0"),
            "explanation": f"{verb} by {d['actor']} (decision {d['id']})" + (f": {d['reason']}" if d["reason"] else "")
                           + (f"; was: {before.get('explanation')}" if before.get("explanation") else ""),
            "state": verb, "paid_on": None, "origin": "decision",
        })
        blocked.append({"entity": entity, "payment_id": payment_id, "invoice_id": invoice_id, "rejected": not confirmed})
    return fixed, blocked, resolved


_INSERT = {
    "rc_fixed": ("entity", "match_id", "payment_id", "invoice_id", "amount_applied", "adjustment", "adjustment_reason",
                 "currency", "rule", "confidence", "explanation", "state", "paid_on", "origin"),
    "rc_match": ("entity", "match_id", "payment_id", "invoice_id", "amount_applied", "adjustment", "adjustment_reason",
                 "currency", "rule", "confidence", "explanation", "state", "paid_on"),
    "rc_exc": ("entity", "kind", "payment_id", "invoice_id", "payout_id", "bank_line_id", "amount", "currency", "detail",
               "settled", "customer_id"),
    "rc_blocked": ("entity", "payment_id", "invoice_id", "rejected"),
    "rc_resolved": ("exception_id", "resolved_at"),
}


def _insert(engine: Engine, table: str, rows: list[dict[str, Any]]) -> None:
    insert_rows(engine, table, _INSERT[table], rows)


def _entities(engine: Engine) -> list[str]:
    rows = engine.query(
        "SELECT entity FROM int_invoices UNION SELECT entity FROM fct_payment UNION SELECT entity FROM fct_payout"
    )
    return sorted(str(r[0]) for r in rows if r[0] is not None)


def _can_increment(engine: Engine, entity: str, rules_hash: str) -> bool:
    rows = engine.query("SELECT rules_hash FROM reconcile_run WHERE entity = :entity", {"entity": entity})
    return bool(rows) and rows[0][0] == rules_hash


def _hash_rows(engine: Engine, entity: str) -> None:
    """Fill rc_pay_h / rc_inv_h with every payment's and invoice's row hash (a full run keeps them all)."""
    for t in (_PAYMENTS, _INVOICES):
        engine.execute(f"INSERT INTO {t.hashes} ({t.key}, h) {t.rows(engine)}", {"entity": entity})


def _digest(h: str) -> str:
    """A digest of a set of row hashes ``h``: its row count and sum, equal when the rows are."""
    return f"CAST(count(*) AS VARCHAR) || ':' || coalesce(CAST(sum({h}) AS VARCHAR), '')"


def _kept_digest(engine: Engine, state: str, entity: str) -> str:
    """The digest of the row hashes kept in ``state`` (after a run: those of every current row)."""
    return str(engine.query(f"SELECT {_digest('row_hash')} FROM {state} WHERE entity = :entity",
                            {"entity": entity})[0][0])


def _invoice_digest(engine: Engine, entity: str) -> str:
    """The digest of int_invoices' row hashes, as _kept_digest reads the kept ones: a night with
    only new payments needs no invoice row compared, just this sum."""
    return str(engine.query(f"SELECT {_digest('h')} FROM ({_INVOICES.rows(engine)}) AS r",
                            {"entity": entity})[0][0])


def _changed_rows(engine: Engine, entity: str, t: _Hashed) -> None:
    """Put in ``t.hashes`` (empty) the ``key`` and row hash ``h`` of the rows of ``t.table`` new or
    changed since the last run (a hash the kept ``t.state`` lacks), then the ids gone, with no hash.

    One anti-join that hashes each row as it is read: writing a million row hashes to a work
    table first cost as much as the comparison itself. Written as an outer join keeping the rows
    without a partner: DuckDB runs it in half the time of the same ``NOT EXISTS`` (0.09 s
    against 0.18 s over a million payments, measured; a kept hash pairs with at most one row).
    Gone ids are looked for only when the counts say some are: every kept hash still there pairs
    with one current row, so
    ``kept - (rows - new or changed)`` is how many kept rows lost their row or its old look.
    """
    p = {"entity": entity}
    engine.execute(
        f"INSERT INTO {t.hashes} ({t.key}, h) SELECT r.{t.key}, r.h FROM ({t.rows(engine)}) AS r "
        f"LEFT JOIN (SELECT row_hash FROM {t.state} WHERE entity = :entity) AS s ON s.row_hash = r.h "
        f"WHERE s.row_hash IS NULL", p)
    new_or_changed, rows, kept = (int(c) for c in engine.query(
        f"SELECT (SELECT count(*) FROM {t.hashes}), (SELECT count(*) FROM {t.table} WHERE entity = :entity), "
        f"(SELECT count(*) FROM {t.state} WHERE entity = :entity)", p)[0])
    if kept > rows - new_or_changed:  # a changed row's old hash, or a row gone
        engine.execute(
            f"INSERT INTO {t.hashes} ({t.key}, h) SELECT DISTINCT s.{t.key}, CAST(NULL AS BIGINT) FROM {t.state} AS s "
            f"WHERE s.entity = :entity AND s.{t.key} NOT IN (SELECT {t.key} FROM {t.hashes}) AND NOT EXISTS ("
            f"  SELECT 1 FROM ({t.rows(engine)}) AS r WHERE r.h = s.row_hash)", p)


def _fill_scope(engine: Engine, entity: str, data_start: date | None, receipt_margin_days: int) -> tuple[str, str, bool]:
    """Payments to reconcile again and invoices changed since the last run of ``entity``.

    Payments are compared row by row every run (new ones come nearly every night). Invoices are
    first checked by digest: when it equals the one the last run stored, none of their rows
    changed and their row-by-row comparison is skipped (a night with only new payments, or a
    re-run with nothing new). Returns the context hash (see _context_hash), the invoices' digest
    and whether the context moved since the last run.
    """
    p = {"entity": entity}
    last = engine.query("SELECT invoices_digest FROM reconcile_run WHERE entity = :entity", p)
    _changed_rows(engine, entity, _PAYMENTS)
    engine.execute("INSERT INTO rc_scope (entity, payment_id) SELECT :entity, payment_id FROM rc_pay_h", p)
    inv_digest = _invoice_digest(engine, entity)
    invoices_moved = not last or last[0][0] != inv_digest
    if invoices_moved:  # only now are the invoices compared row by row
        _changed_rows(engine, entity, _INVOICES)
        engine.execute("INSERT INTO rc_inv_changed (invoice_id) SELECT invoice_id FROM rc_inv_h")
    engine.execute(
        "INSERT INTO rc_scope (entity, payment_id) "
        "SELECT entity, payment_id FROM decision WHERE entity = :entity AND payment_id IS NOT NULL "
        # an open overpayment a debit of exactly its excess may now pay back (50_exceptions paid_back): a few
        # exceptions against the bank's debits of their amounts
        "UNION SELECT e.entity, e.payment_id FROM fct_reconciliation_exception AS e "
        "JOIN fct_bank_line AS b ON b.entity = e.entity AND b.amount = -e.amount AND b.return_reason IS NULL "
        "WHERE e.entity = :entity AND e.kind = 'overpayment' AND e.resolved_at IS NULL AND e.payment_id IS NOT NULL "
        + ("UNION SELECT m.entity, m.payment_id FROM fct_match AS m JOIN rc_inv_changed AS c "
           "ON c.invoice_id = m.invoice_id WHERE m.entity = :entity "
           # an invoice the ERP now shows settled by a receipt (16_erp_settled): the receipt is redone
           "UNION SELECT entity, payment_id FROM int_erp_settlements WHERE entity = :entity "
           "AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed)" if invoices_moved else ""), p)
    # a changed invoice may now fit a payment that is unresolved: those are in scope above
    engine.execute(
        "CREATE TEMP TABLE rc_scope_d AS SELECT DISTINCT entity, payment_id FROM rc_scope")
    engine.execute("DELETE FROM rc_scope")
    engine.execute("INSERT INTO rc_scope SELECT entity, payment_id FROM rc_scope_d")
    engine.execute("DROP TABLE rc_scope_d")
    # matches kept from earlier runs are not copied: 10_inputs reads what they consumed from fct_match
    # Unresolved payments come in only when something they can reach moved: seeded here with what
    # changed before the run (invoices, the scope's payers and old matches), closed over after the
    # residue with what the run itself moved (_touched_by_run). The invoice parts are skipped when
    # the invoices' digest says none changed (each reads the whole book).
    changed_invoices = (
        "UNION SELECT 'customer', customer_id FROM int_invoices WHERE entity = :entity "
        "AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed) "
        "UNION SELECT 'customer', customer_id FROM reconcile_invoice_key WHERE entity = :entity "
        "AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed) "
        "UNION SELECT 'amount', CAST(CAST(amount_total AS DECIMAL(18,2)) AS VARCHAR) FROM int_invoices "
        "WHERE entity = :entity AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed) ")
    engine.execute(
        "INSERT INTO rc_touch (kind, value) "
        "WITH sp AS (SELECT p.customer_id, p.payer_iban FROM "
        + _rows_of(engine.name, "fct_payment", "payment_id", "SELECT payment_id FROM rc_scope") + " AS p "
        "WHERE p.entity = :entity) "
        "SELECT 'customer', customer_id FROM sp "
        "UNION SELECT 'iban', upper(replace(payer_iban, ' ', '')) FROM sp "
        # (semi-joins: the scope's old matches first, then their invoices, not the book joined to all matches)
        "UNION SELECT 'customer', customer_id FROM int_invoices WHERE entity = :entity AND invoice_id IN ("
        "  SELECT invoice_id FROM fct_match WHERE entity = :entity AND payment_id IN (SELECT payment_id FROM rc_scope)) "
        + (changed_invoices if invoices_moved else ""), p)
    if invoices_moved:
        # a payment placed by searching its customer's open items (by amount, a subset of them, the ERP's receipt)
        # is placed again when one of that customer's invoices changed: what the search would find may have
        # changed with it (an invoice the ERP now shows settled by that very money, a new invoice of its amount)
        engine.execute(
            "INSERT INTO rc_scope (entity, payment_id) SELECT DISTINCT m.entity, m.payment_id FROM fct_match AS m "
            "JOIN int_invoices AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
            f"WHERE m.entity = :entity AND m.state = 'auto' AND m.rule IN {_SEARCHED_RULES} "
            "AND i.customer_id IN (SELECT customer_id FROM int_invoices WHERE entity = :entity "
            "                      AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed)) "
            "AND m.payment_id NOT IN (SELECT payment_id FROM rc_scope)", p)
    context = _context_hash(engine, entity, data_start)
    last_context = engine.query("SELECT context_hash FROM reconcile_run WHERE entity = :entity", p)
    moved = not last_context or last_context[0][0] != context
    # ERP settlements weighed again: all of them when the bank data may now begin earlier or later;
    # else those whose receipt is just before the data begin, which a new bank line can still claim
    near_start = (None if moved or data_start is None else
                  {"lo": (data_start - timedelta(days=receipt_margin_days)).isoformat(), "hi": data_start.isoformat()})
    if moved or near_start:
        engine.execute("INSERT INTO rc_scope (entity, payment_id) SELECT DISTINCT entity, payment_id "
                       "FROM int_erp_settlements WHERE entity = :entity "
                       + ("AND settled_on >= CAST(:lo AS DATE) AND settled_on < CAST(:hi AS DATE) " if near_start else "")
                       + "AND payment_id NOT IN (SELECT payment_id FROM rc_scope)", {**p, **(near_start or {})})
    if moved:  # the credits the ERP's receipts placed are placed again (a bill since returned unpaid, a line re-lettered)
        engine.execute("INSERT INTO rc_scope (entity, payment_id) SELECT DISTINCT entity, payment_id FROM fct_match "
                       "WHERE entity = :entity AND rule = 'erp_receipt' "
                       "AND payment_id NOT IN (SELECT payment_id FROM rc_scope)", p)
        # a refund (or a refund failed and come back) since the last run: the payment applies other than its net
        # now (its own row did not change: a part refund leaves a charge succeeded), so it is applied again
        engine.execute(
            "INSERT INTO rc_scope (entity, payment_id) "
            "WITH r AS (" + refunded_by_payment("entity = :entity") + ") "
            "SELECT :entity, r.payment_id FROM r "
            "LEFT JOIN (SELECT payment_id, sum(amount_applied) AS applied FROM fct_match "
            "      WHERE entity = :entity AND state = 'auto' AND payment_id IN (SELECT payment_id FROM r) "
            "      GROUP BY payment_id) AS m ON m.payment_id = r.payment_id "
            "JOIN fct_payment AS f ON f.entity = :entity AND f.payment_id = r.payment_id "
            "WHERE coalesce(m.applied, 0) <> f.amount - r.refunded "
            "AND r.payment_id NOT IN (SELECT payment_id FROM rc_scope)", p)
    _add_reached(engine, entity, everything=moved)
    return context, inv_digest, moved


# Rules that place a payment by searching its customer's open items rather than by what it names: an incremental
# run places such a payment again when one of that customer's invoices changed (_fill_scope).
_SEARCHED_RULES = "('customer_amount', 'subset_sum', 'erp_receipt', 'learned_alias')"

# Payments left unresolved by earlier runs: an open exception naming them, or a suggestion.
_UNRESOLVED = (
    "SELECT entity, payment_id FROM fct_reconciliation_exception "
    "WHERE entity = :entity AND resolved_at IS NULL AND payment_id IS NOT NULL "
    "UNION SELECT entity, payment_id FROM fct_match WHERE entity = :entity AND state = 'suggested'"
)


def _add_reached(engine: Engine, entity: str, *, everything: bool) -> int:
    """Put in scope the unresolved payments that can reach something in rc_touch (or all of them).

    A payment whose reach was never recorded (reconciled before reach was kept) always comes in.
    Returns how many payments joined the scope.
    """
    p = {"entity": entity}
    before = int(engine.query("SELECT count(*) FROM rc_scope")[0][0])
    reached = "" if everything else (
        "AND (NOT EXISTS (SELECT 1 FROM reconcile_payment_reach AS r WHERE r.entity = u.entity "
        "AND r.payment_id = u.payment_id AND r.kind = 'self') "
        "OR EXISTS (SELECT 1 FROM reconcile_payment_reach AS r JOIN rc_touch AS t ON t.kind = r.kind "
        "AND t.value = r.value WHERE r.entity = u.entity AND r.payment_id = u.payment_id))")
    engine.execute(
        f"INSERT INTO rc_scope (entity, payment_id) SELECT DISTINCT u.entity, u.payment_id FROM ({_UNRESOLVED}) AS u "
        f"WHERE NOT EXISTS (SELECT 1 FROM rc_scope AS s WHERE s.entity = u.entity AND s.payment_id = u.payment_id) "
        f"{reached}", p)
    return int(engine.query("SELECT count(*) FROM rc_scope")[0][0]) - before


def _touched_by_run(engine: Engine, entity: str) -> None:
    """What this run moved, for the closure of the scope: customers whose open items it consumed
    (or released: old matches of its payments), open amounts before and after, payer accounts.

    The scope's old matches are read from fct_match once and the moved invoices computed once
    (temporary tables): inline, each of the four unions below re-read a million matches twice.
    """
    p = {"entity": entity}
    engine.execute("DROP TABLE IF EXISTS rc_old")
    engine.execute(
        "CREATE TEMP TABLE rc_old AS SELECT m.invoice_id, m.amount_applied, m.adjustment, m.state, m.rule "
        "FROM fct_match AS m WHERE m.entity = :entity AND m.payment_id IN (SELECT payment_id FROM rc_scope)", p)
    engine.execute("DROP TABLE IF EXISTS rc_moved")
    engine.execute(
        "CREATE TEMP TABLE rc_moved AS "
        "WITH moved AS ("
        f"  SELECT invoice_id FROM rc_match WHERE rule NOT IN {residue.REAPPLIED} "
        "  UNION SELECT invoice_id FROM rc_old"
        "), applied AS ("
        "  SELECT invoice_id, sum(amount_applied + coalesce(adjustment, 0)) AS applied FROM rc_match "
        f"  WHERE state IN ('auto', 'confirmed') AND rule NOT IN {residue.NETTED_IN_OPEN0} GROUP BY invoice_id"
        "), released AS ("
        "  SELECT invoice_id, sum(amount_applied + coalesce(adjustment, 0)) AS released FROM rc_old "
        f"  WHERE state = 'auto' AND rule NOT IN {residue.REAPPLIED} GROUP BY invoice_id"
        ") "
        "SELECT i.customer_id, i.open0, i.open0 - coalesce(a.applied, 0) AS open_after, "
        "       i.open0 - coalesce(r.released, 0) AS open_before "
        "FROM rc_inv AS i JOIN moved ON moved.invoice_id = i.invoice_id "
        "LEFT JOIN applied AS a ON a.invoice_id = i.invoice_id LEFT JOIN released AS r ON r.invoice_id = i.invoice_id")
    engine.execute(
        "INSERT INTO rc_touch (kind, value) "
        "SELECT 'customer', customer_id FROM rc_moved WHERE customer_id IS NOT NULL "
        "UNION SELECT 'amount', CAST(CAST(open0 AS DECIMAL(18,2)) AS VARCHAR) FROM rc_moved "
        "UNION SELECT 'amount', CAST(CAST(open_after AS DECIMAL(18,2)) AS VARCHAR) FROM rc_moved "
        "UNION SELECT 'amount', CAST(CAST(open_before AS DECIMAL(18,2)) AS VARCHAR) FROM rc_moved "
        "UNION SELECT 'iban', payer_iban FROM rc_pay WHERE payer_iban <> ''")
    engine.execute("DROP TABLE rc_old")
    engine.execute("DROP TABLE rc_moved")


def _set_hash(engine: Engine, table: str, cols: tuple[str, ...], where: str) -> str:
    """SQL for one order-independent digest of a set of rows (both engines)."""
    if engine.name == "duckdb":
        return (f"(SELECT coalesce(CAST(sum(hash({', '.join(cols)})) AS VARCHAR), '') || ':' || CAST(count(*) AS VARCHAR) "
                f"FROM {table} WHERE {where})")
    row = " || '|' || ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in cols)
    return f"(SELECT coalesce(md5(string_agg(md5({row}), ',' ORDER BY md5({row}))), '') FROM {table} WHERE {where})"


def _context_hash(engine: Engine, entity: str, data_start: date | None) -> str:
    """What identifies payers and nets payments besides the payments themselves: customers (names,
    IBANs), payer aliases, refunds, banked payouts, the ERP's receipts and invoices' other numbers;
    and the day the bank and provider data begin, which says which ERP settlements stand on the
    ERP's word (16_erp_settled). When it changes, any
    unresolved payment may now be identified, so all of them are re-run, and every ERP settlement."""
    parts = [
        _set_hash(engine, "dim_customer", ("customer_id", "name", "iban"), "entity = :entity"),
        _set_hash(engine, "payer_alias", ("customer_id", "kind", "value"), "entity = :entity"),
        _set_hash(engine, "fct_payout_component", ("payment_id", "amount"), "entity = :entity AND kind IN " + REFUND_KINDS),
        _set_hash(engine, "int_payment_refunds", ("payment_id", "refunded"), "entity = :entity"),
        _set_hash(engine, "fct_payout", ("payout_id", "bank_line_id"), "entity = :entity"),
        # the other numbers the ERP keeps for invoices (a reference token may name one only now)
        _set_hash(engine, "int_invoice_aliases", ("invoice_id", "alias"), "entity = :entity"),
        # the ERP's receipts identify payers and name invoices for bank credits no other rule placed
        _set_hash(engine, "int_erp_receipts", ("payment_id", "amount", "paid_on", "erp_lettrage", "customer_id",
                                               "returned_by"), "entity = :entity"),
    ]
    sets = str(engine.query("SELECT " + " || '#' || ".join(parts), {"entity": entity})[0][0])
    return f"{sets}#{data_start}"


def _data_start(engine: Engine, entity: str) -> tuple[date | None, bool]:
    """The first day of ``entity``'s bank statements (else of its provider payments), or None; and whether
    provider payments begin before it.

    Money the ERP shows received before it cannot be on any statement loaded: for those receipts
    the ERP's lettrage is the only evidence there is (16_erp_settled.sql). The bound is the bank's, not
    the earliest of bank and provider data: a transfer the ERP booked after the provider data begin but
    before the first statement is on no statement either (a GoCardless export from 8 August, statements
    from 1 September). Such a receipt stands on the ERP's word unless the provider data show its money
    (a payment or payout of its amount near its date): the second value says whether to look.
    """
    lines, transfers, provider = (
        d if d is None or isinstance(d, date) else date.fromisoformat(str(d)) for d in engine.query(
            "SELECT (SELECT min(booking_date) FROM fct_bank_line WHERE entity = :entity), "
            "(SELECT min(paid_on) FROM fct_payment WHERE entity = :entity AND channel = 'bank_transfer'), "
            "(SELECT min(paid_on) FROM fct_payment WHERE entity = :entity AND channel NOT IN ('erp', 'bank_transfer'))",
            {"entity": entity})[0])
    bank = min((d for d in (lines, transfers) if d is not None), default=None)
    if bank is None:
        return provider, False
    return bank, provider is not None and provider < bank


def _save_state(engine: Engine, entity: str, incremental: bool, rules_hash: str, as_of: date, now: datetime,
                context: str, invoices_digest: str | None = None) -> None:
    p = {"entity": entity, "now": now}
    if not incremental:  # an incremental run hashed the rows new, changed or gone when it looked for changes
        _hash_rows(engine, entity)
    # the kept hashes follow the rows: all of them after a full run, after an incremental one those
    # of the rows new or changed (rc_*_h with a hash) or gone (without)
    for t in (_PAYMENTS, _INVOICES):
        only = f"AND {t.key} IN (SELECT {t.key} FROM {t.hashes})" if incremental else ""
        engine.execute(f"DELETE FROM {t.state} WHERE entity = :entity {only}", {"entity": entity})
        engine.execute(f"INSERT INTO {t.state} (entity, {t.key}, row_hash, reconciled_at) "
                       f"SELECT :entity, {t.key}, h, CAST(:now AS TIMESTAMP WITH TIME ZONE) FROM {t.hashes} "
                       f"WHERE h IS NOT NULL", p)
    pay_digest = _kept_digest(engine, _PAYMENTS.state, entity)
    inv_digest = invoices_digest or _kept_digest(engine, _INVOICES.state, entity)
    reach_scope = "AND payment_id IN (SELECT payment_id FROM rc_scope)" if incremental else ""
    engine.execute(f"DELETE FROM reconcile_payment_reach WHERE entity = :entity {reach_scope}", {"entity": entity})
    engine.execute(
        "INSERT INTO reconcile_payment_reach (entity, payment_id, kind, value) "
        "WITH u AS (SELECT payment_id FROM rc_exc_final WHERE payment_id IS NOT NULL "
        "           UNION SELECT payment_id FROM rc_match WHERE state = 'suggested') "
        "SELECT DISTINCT :entity, r.payment_id, r.kind, r.value FROM ("
        "  SELECT payment_id, 'self' AS kind, '' AS value FROM u "
        "  UNION ALL SELECT p.payment_id, 'customer', p.customer_id FROM rc_pay AS p JOIN u ON u.payment_id = p.payment_id "
        "  UNION ALL SELECT p.payment_id, 'iban', p.payer_iban FROM rc_pay AS p JOIN u ON u.payment_id = p.payment_id "
        "  WHERE p.payer_iban <> '' "
        "  UNION ALL SELECT c.payment_id, 'customer', i.customer_id FROM rc_cand AS c "
        "  JOIN rc_inv AS i ON i.entity = c.entity AND i.invoice_id = c.invoice_id JOIN u ON u.payment_id = c.payment_id "
        "  UNION ALL SELECT x.payment_id, x.kind, x.value FROM rc_reach AS x JOIN u ON u.payment_id = x.payment_id"
        ") AS r WHERE r.value IS NOT NULL", {"entity": entity})
    engine.execute("DELETE FROM reconcile_run WHERE entity = :entity", {"entity": entity})
    engine.execute("INSERT INTO reconcile_run (entity, as_of, rules_hash, finished_at, context_hash, payments_digest, "
                   "invoices_digest) VALUES (:entity, CAST(:as_of AS DATE), :rules_hash, "
                   "CAST(:now AS TIMESTAMP WITH TIME ZONE), :context, :pay_digest, :inv_digest)",
                   {"entity": entity, "as_of": as_of.isoformat(), "rules_hash": rules_hash, "now": now,
                    "context": context, "pay_digest": pay_digest,
                    "inv_digest": inv_digest})


def _reconcile_entity(engine: Engine, entity: str, rules: MatchingRules, as_of: date, incremental: bool,
                      decisions: list[dict[str, Any]], summary: ReconcileSummary, now: datetime) -> None:
    rules_hash = _rules_hash(rules)
    incremental = incremental and _can_increment(engine, entity, rules_hash)
    last_as_of = engine.query("SELECT as_of FROM reconcile_run WHERE entity = :entity", {"entity": entity})
    summary.incremental = summary.incremental or incremental
    create_work_tables(engine)
    fixed, blocked, resolved = _decision_rows([d for d in decisions if d["entity"] == entity])
    _insert(engine, "rc_fixed", fixed)
    _insert(engine, "rc_blocked", blocked)
    _insert(engine, "rc_resolved", resolved)
    context_hash: str | None = None  # customers, aliases, refunds, payouts as of the run (computed once)
    invoices_digest: str | None = None
    context_moved = True  # customers (their names among them) may have changed since the last run
    data_start, provider_before = _data_start(engine, entity)  # (the run's inputs do not change while it runs)
    if incremental:
        t = time.perf_counter()
        context_hash, invoices_digest, context_moved = _fill_scope(engine, entity, data_start,
                                                                    rules.erp.receipt_before_data_days)
        summary.timings["05_scope"] = summary.timings.get("05_scope", 0.0) + time.perf_counter() - t
    conf = {name: r.confidence for name, r in rules.rules.items()}
    state = {name: ("auto" if r.auto else "suggested") for name, r in rules.rules.items()}
    kinds = ", ".join(str(k) for k, rule in KIND_RULE.items() if rules.rule(rule).enabled)
    # credit notes not lettered, and those of them with a text of their own, in one read of the book
    loose, named = engine.query(
        "SELECT count(*) > 0, count(description) > 0 FROM int_invoices WHERE entity = :entity "
        "AND doc_type = 'credit_note' AND coalesce(erp_lettrage, '') = ''", {"entity": entity})[0]
    context = {
        "incremental": incremental, "invoices_table": "int_invoices", "min_len": rules.reference.min_key_length,
        "min_tail": rules.reference.min_tail_length, "max_inv": rules.reference.max_invoices_per_payment,
        "conf": conf, "state": state, "kinds": kinds or "0", "tol": rules.tolerances, "erp": rules.erp,
        "erp_movements": ERP_MOVEMENTS,
        "open_disputes": open_disputes_sql,
        # matches 15_credit_notes and 16_erp_settled already took off rc_inv.open0: never subtracted again
        "netted": residue.NETTED_IN_OPEN0,
        # matches every run lays again (an incremental run replaces them): residue.REAPPLIED
        "reapplied": residue.REAPPLIED,
        "payout_days": rules.windows.payout_to_bank_days, "rows_of": partial(_rows_of, engine.name),
        "overpayment_refund_days": rules.windows.overpayment_refund_days,
        "affected_only": incremental and bool(last_as_of) and str(last_as_of[0][0]) == as_of.isoformat(),
        "credit_note_words": bool(rules.reference.credit_note_words),
        # (a book without ERP settlements skips the step: its bank and provider scans cost ~40 ms a run at 1M)
        "erp_settle": rules.rule("erp_lettrage").enabled and bool(engine.query(
            "SELECT 1 FROM int_erp_settlements WHERE entity = :entity LIMIT 1", {"entity": entity})),
        "settle_bound": data_start is not None,
        "provider_before": provider_before,
        # (a book without unlettered credit notes skips looking for payers who deducted one: 30_allocate)
        "loose_credit_notes": bool(loose),
        # (a book whose unlettered credit notes have no text of their own skips looking for the invoice they name)
        "named_credit_notes": bool(named),
        # (a book whose provider never applied a customer's credit balance to an invoice skips laying credit notes
        # on them)
        "balance_applications": bool(engine.query(
            "SELECT 1 FROM int_invoice_balance_applications WHERE entity = :entity LIMIT 1", {"entity": entity})),
        # (a book whose ERP never applied a credit note by amount skips setting them against their invoices)
        "erp_credit_applications": bool(engine.query(
            "SELECT 1 FROM int_erp_credit_applications WHERE entity = :entity LIMIT 1", {"entity": entity})),
        # (a book whose credit notes were never paid back skips closing them: int_credit_note_refunds)
        "cn_refunds": bool(engine.query(
            "SELECT 1 FROM int_credit_note_refunds WHERE entity = :entity LIMIT 1", {"entity": entity})),
        # (a book whose ERP wrote no debt off skips telling its write-offs from credit notes: 70_invoice; a warehouse
        # built before int_invoices had the column has none)
        "erp_write_offs": "write_off" in engine.columns("int_invoices") and bool(engine.query(
            "SELECT 1 FROM int_invoices WHERE entity = :entity AND write_off LIMIT 1", {"entity": entity})),
        # (a book without refunds skips pairing them with credit notes: no whole-book read for nothing)
        "refunds": bool(engine.query(
            "SELECT 1 FROM fct_payout_component WHERE entity = :entity AND kind IN " + REFUND_KINDS
            + " UNION ALL SELECT 1 FROM int_payment_refunds WHERE entity = :entity LIMIT 1",
            {"entity": entity})),
    }
    params: dict[str, Any] = {"entity": entity, "as_of": as_of.isoformat(), "now": now}
    if data_start is not None:
        params["data_start"] = data_start.isoformat()
        params["settle_before"] = (data_start - timedelta(days=rules.erp.receipt_before_data_days)).isoformat()
    runner = _Runner(engine, rules, context, params, summary)
    for attempt in range(_MAX_CLOSURE_PASSES + 1):
        for name in ("10_inputs.sql", "15_credit_notes.sql", "16_erp_settled.sql", "20_candidates.sql",
                     "30_allocate.sql"):
            runner.run_file(name)
        t = time.perf_counter()
        outcome = residue_load.load_and_run(engine, lambda _e: rules, max_inv=rules.reference.max_invoices_per_payment,
                                       widen=(lambda: runner.run_file("34_residue_book.sql")) if incremental else None,
                                       names_fresh=not context_moved)
        _insert(engine, "rc_match", outcome.matches)
        _insert(engine, "rc_exc", outcome.exceptions)
        insert_rows(engine, "rc_reach", ("payment_id", "kind", "value"), outcome.reach)
        summary.timings["35_residue"] = summary.timings.get("35_residue", 0.0) + time.perf_counter() - t
        if not incremental:
            break
        # closure: did this run move something an unresolved payment out of scope can reach?
        t = time.perf_counter()
        _touched_by_run(engine, entity)
        added = _add_reached(engine, entity, everything=attempt == _MAX_CLOSURE_PASSES - 1)
        summary.timings["36_closure"] = summary.timings.get("36_closure", 0.0) + time.perf_counter() - t
        if not added:
            break
        log.info("incremental scope of %s grew by %d unresolved payments; reconciling again", entity, added)
        for table in ("rc_match", "rc_exc", "rc_reach"):
            engine.execute(f"DELETE FROM {table}")
    summary.payments_in_scope += int(engine.query("SELECT count(*) FROM rc_pay")[0][0])
    summary.residue_payments += len({m["payment_id"] for m in outcome.matches} | {e["payment_id"] for e in outcome.exceptions})
    with engine.transaction():
        for name in ("40_adjust.sql", "50_exceptions.sql", "55_erp_agreement.sql", "60_write_match.sql",
                     "62_erp_invoices.sql", "64_write_exceptions.sql", "70_invoice.sql"):
            runner.run_file(name)
        t = time.perf_counter()
        _save_state(engine, entity, incremental, rules_hash, as_of, now,
                    context_hash or _context_hash(engine, entity, data_start), invoices_digest)
        summary.timings["80_state"] = summary.timings.get("80_state", 0.0) + time.perf_counter() - t
    drop_work_tables(engine)


# DuckDB settings in force during a run (see _run_settings), each with why.
_RUN_SETTINGS = {
    # DuckDB analyses every column of every row group it writes to pick a compression, and a run
    # writes millions of rows (work tables, fct_match, fct_invoice, the run's bookkeeping) most of
    # which the next run replaces: measured at 1M payments x 1M invoices, compression was ~2 s of
    # the run's ~9 s of CPU (fct_invoice's insert 1.6 s -> 0.8 s, fct_match's 1.4 s -> 0.6 s).
    # The cost is a larger file: see benchmarks/RESULTS.md.
    "force_compression": "uncompressed",
    # No statement of a run relies on the order rows come back in without an ORDER BY (the residue
    # sorts what it reads, and reads lists in a stated order): DuckDB then writes and scans work
    # tables in parallel without keeping the input's order. Measured at 1M x 1M: from no gain to
    # ~0.7 s of a full run depending on the hour, within the shared machine's noise.
    "preserve_insertion_order": "false",
}


@contextmanager
def _run_settings(engine: Engine) -> Iterator[None]:
    """DuckDB runs the reconciliation with :data:`_RUN_SETTINGS`, then each is as it was.

    They are global DuckDB settings, so the values in force before the run are put back, even on error.
    """
    if engine.name != "duckdb":
        yield
        return
    before = {name: str(engine.query(f"SELECT current_setting('{name}')")[0][0]) for name in _RUN_SETTINGS}
    for name, value in _RUN_SETTINGS.items():
        engine.execute(f"SET {name} = '{value}'")
    try:
        yield
    finally:
        for name, value in before.items():
            engine.execute(f"SET {name} = '{value}'")


@contextmanager
def _one_run_of(engine: Engine, entity: str) -> Iterator[None]:
    """One reconciliation of an entity at a time. Two desk users' decisions each start a run of the entity; run side
    by side they both wrote the matches they found, and a payment's match stood twice in fct_match (applied twice,
    and a later run that changes nothing rewrites nothing). A lock per entity in this process, and on Postgres a
    session advisory lock (several desk workers, a sync and the desk)."""
    with named_lock(engine, f"reconcile|{entity}"):
        yield


def reconcile(engine: Engine, *, as_of: date, rules: MatchingRules | None = None, entity: str | None = None,
              incremental: bool = False) -> ReconcileSummary:
    """Reconcile payments with invoices and write fct_match, exceptions and fct_invoice.

    Idempotent: the same inputs and decisions give the same rows (deterministic ids,
    first ``matched_at``/``opened_at`` kept). ``incremental`` falls back to a full run
    for an entity never reconciled before or whose rules changed.
    """
    started = time.perf_counter()
    base = rules or load_matching_rules()
    ensure_reconcile_tables(engine)
    summary = ReconcileSummary()
    now = datetime.now(UTC)
    entities = [entity] if entity else _entities(engine)
    with ExitStack() as held:
        for ent in sorted(entities):  # (always in one order: two runs never wait on each other crosswise)
            held.enter_context(_one_run_of(engine, ent))
        decisions = load_decisions(engine, entity)  # (read once the entity is ours: a waiting run sees the latest)
        with _run_settings(engine):
            for ent in entities:
                _reconcile_entity(engine, ent, base.for_entity(ent), as_of, incremental, decisions, summary, now)
    summary.entities = entities
    where = " WHERE entity = :entity" if entity else ""
    p = {"entity": entity} if entity else None
    # one pass over fct_match for both counts (each is a scan of every match of the book)
    by_state: Counter[str] = Counter()
    by_rule: Counter[str] = Counter()
    for state_, rule_, n in engine.query(f"SELECT state, rule, count(*) FROM fct_match{where} GROUP BY state, rule", p):
        by_state[str(state_)] += int(n)
        by_rule[str(rule_)] += int(n)
    summary.matches, summary.rules = dict(by_state), dict(by_rule)
    open_where = (where + " AND" if where else " WHERE") + " resolved_at IS NULL"
    summary.exceptions = {str(k): int(n) for k, n in engine.query(
        f"SELECT kind, count(*) FROM fct_reconciliation_exception{open_where} GROUP BY kind", p)}
    summary.seconds = time.perf_counter() - started
    log.info("reconciled %s in %.2fs: matches %s, open exceptions %s", ",".join(entities) or "-", summary.seconds,
             dict(Counter(summary.matches)), summary.exceptions)
    return summary
