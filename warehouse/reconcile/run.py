"""One reconciliation run: decisions, set-based cascade, residue, exceptions, invoice state.

    decisions ──▶ rc_fixed / rc_blocked          (confirmed + rejected pairs, never overwritten)
    int_invoices, fct_payment ──▶ 10 inputs ──▶ 15 credit notes ──▶ 20 candidates ──▶ 30 allocate
    residue (Python, batched) ──▶ 40 short-payment tolerance ──▶ 50 exceptions ──▶ 55 ERP evidence
    ──▶ 60 fct_match ──▶ 62 ERP-settled invoices without payment ──▶ 64 exceptions ──▶ 70 fct_invoice

Runs one entity at a time (tolerances may differ per entity) on one connection;
work tables are temporary. ``incremental=True`` re-reconciles only payments that
are new or changed, unresolved, touched by a decision or whose invoices changed;
everything else keeps its matches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from mappings.matching import MatchingRules, load_matching_rules
from warehouse import sql as sqlmod
from warehouse.engine import Engine
from warehouse.reconcile import residue
from warehouse.reconcile.bulk import insert_rows
from warehouse.reconcile.decisions import load_decisions
from warehouse.reconcile.references import KIND_RULE, sql_key_macros
from warehouse.reconcile.schema import create_work_tables, drop_work_tables, ensure_reconcile_tables

log = logging.getLogger("lettrage.reconcile")
SQL_DIR = Path(__file__).parent / "sql"
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_PAYMENT_COLS = ("p.amount", "p.status", "p.reference", "p.customer_id", "p.payer_iban", "p.payer_name",
                 "p.currency", "p.paid_on", "p.channel")
_INVOICE_COLS = ("i.invoice_number", "i.amount_total", "i.customer_id", "i.currency", "i.due_date", "i.erp_lettrage",
                 "i.doc_type", "i.issue_date", "i.disputed", "i.erp_amount_open")


def _fingerprint(engine: Engine, cols: tuple[str, ...]) -> str:
    """What a row looked like, to find new or changed rows. DuckDB's native hash is several times
    cheaper than md5 of a concatenation over a million rows; Postgres keeps md5."""
    if engine.name == "duckdb":
        return f"CAST(hash({', '.join(cols)}) AS VARCHAR)"
    return "md5(" + " || '|' || ".join(f"coalesce(CAST({c} AS VARCHAR), '')" for c in cols) + ")"


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


class _Runner:
    def __init__(self, engine: Engine, rules: MatchingRules, context: dict[str, Any], params: dict[str, Any],
                 summary: ReconcileSummary) -> None:
        self.engine, self.rules, self.context, self.params, self.summary = engine, rules, context, params, summary
        self.macros = sql_key_macros(rules.reference.prefixes)

    def run_file(self, name: str) -> None:
        started = time.perf_counter()
        rendered = _template(self.macros, name).render(engine=self.engine.name, **self.context)
        for stmt in _statements(rendered):
            used = {k: v for k, v in self.params.items() if k in set(_PARAM.findall(stmt))}
            self.engine.execute(stmt, used or None)
        step = name.split(".")[0]
        self.summary.timings[step] = self.summary.timings.get(step, 0.0) + time.perf_counter() - started


@lru_cache(maxsize=64)
def _template(macros: str, name: str) -> jinja2.Template:
    """Compiled once per process: the same text as ``warehouse.sql.render`` (its macros + ours)."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(sqlmod.MACROS + macros + _TOLERANCE_MACRO + (SQL_DIR / name).read_text(encoding="utf-8"))


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


# Bumped when what the run keeps between runs changes (v3: reconcile_invoice_key, hashed fingerprints), so the
# first run after an upgrade is a full one.
_STATE_VERSION = "3"


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
    "rc_exc": ("entity", "kind", "payment_id", "invoice_id", "payout_id", "bank_line_id", "amount", "currency", "detail"),
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


def _fill_scope(engine: Engine, entity: str) -> None:
    p = {"entity": entity}
    pay_fp, inv_fp = _fingerprint(engine, _PAYMENT_COLS), _fingerprint(engine, _INVOICE_COLS)
    engine.execute(
        f"INSERT INTO rc_scope (entity, payment_id) "
        f"SELECT p.entity, p.payment_id FROM fct_payment AS p "
        f"LEFT JOIN reconcile_payment_state AS s ON s.entity = p.entity AND s.payment_id = p.payment_id "
        f"WHERE p.entity = :entity AND (s.payment_id IS NULL OR s.fingerprint <> {pay_fp})", p)
    engine.execute(
        f"INSERT INTO rc_inv_changed (invoice_id) SELECT i.invoice_id FROM int_invoices AS i "
        f"LEFT JOIN reconcile_invoice_state AS s ON s.entity = i.entity AND s.invoice_id = i.invoice_id "
        f"WHERE i.entity = :entity AND (s.invoice_id IS NULL OR s.fingerprint <> {inv_fp}) "
        f"UNION ALL SELECT s.invoice_id FROM reconcile_invoice_state AS s WHERE s.entity = :entity "
        f"AND NOT EXISTS (SELECT 1 FROM int_invoices AS i WHERE i.entity = s.entity AND i.invoice_id = s.invoice_id)", p)
    engine.execute(
        "INSERT INTO rc_scope (entity, payment_id) "
        "SELECT entity, payment_id FROM fct_reconciliation_exception "
        "WHERE entity = :entity AND resolved_at IS NULL AND payment_id IS NOT NULL "
        "UNION SELECT entity, payment_id FROM fct_match WHERE entity = :entity AND state = 'suggested' "
        "UNION SELECT entity, payment_id FROM decision WHERE entity = :entity AND payment_id IS NOT NULL "
        "UNION SELECT s.entity, s.payment_id FROM reconcile_payment_state AS s WHERE s.entity = :entity "
        "AND NOT EXISTS (SELECT 1 FROM fct_payment AS p WHERE p.entity = s.entity AND p.payment_id = s.payment_id) "
        "UNION SELECT m.entity, m.payment_id FROM fct_match AS m JOIN rc_inv_changed AS c "
        "ON c.invoice_id = m.invoice_id WHERE m.entity = :entity", p)
    # a changed invoice may now fit a payment that is unresolved: those are in scope above
    engine.execute(
        "CREATE TEMP TABLE rc_scope_d AS SELECT DISTINCT entity, payment_id FROM rc_scope")
    engine.execute("DELETE FROM rc_scope")
    engine.execute("INSERT INTO rc_scope SELECT entity, payment_id FROM rc_scope_d")
    engine.execute("DROP TABLE rc_scope_d")
    # matches kept from earlier runs are not copied: 10_inputs reads what they consumed from fct_match


def _save_state(engine: Engine, entity: str, incremental: bool, rules_hash: str, as_of: date, now: datetime) -> None:
    p = {"entity": entity, "now": now}
    if incremental:
        engine.execute("DELETE FROM reconcile_payment_state WHERE entity = :entity AND payment_id IN "
                       "(SELECT payment_id FROM rc_scope)", {"entity": entity})
        scope = "AND p.payment_id IN (SELECT payment_id FROM rc_scope)"
    else:
        engine.execute("DELETE FROM reconcile_payment_state WHERE entity = :entity", {"entity": entity})
        scope = ""
    engine.execute(
        f"INSERT INTO reconcile_payment_state (entity, payment_id, fingerprint, reconciled_at) "
        f"SELECT p.entity, p.payment_id, {_fingerprint(engine, _PAYMENT_COLS)}, CAST(:now AS TIMESTAMP WITH TIME ZONE) "
        f"FROM fct_payment AS p WHERE p.entity = :entity {scope}", p)
    inv_scope = "AND invoice_id IN (SELECT invoice_id FROM rc_inv_changed)" if incremental else ""
    engine.execute(f"DELETE FROM reconcile_invoice_state WHERE entity = :entity {inv_scope}", {"entity": entity})
    engine.execute(
        f"INSERT INTO reconcile_invoice_state (entity, invoice_id, fingerprint, reconciled_at) "
        f"SELECT i.entity, i.invoice_id, {_fingerprint(engine, _INVOICE_COLS)}, CAST(:now AS TIMESTAMP WITH TIME ZONE) "
        f"FROM int_invoices AS i WHERE i.entity = :entity {inv_scope.replace('invoice_id', 'i.invoice_id', 1)}", p)
    engine.execute("DELETE FROM reconcile_run WHERE entity = :entity", {"entity": entity})
    engine.execute("INSERT INTO reconcile_run (entity, as_of, rules_hash, finished_at) VALUES "
                   "(:entity, CAST(:as_of AS DATE), :rules_hash, CAST(:now AS TIMESTAMP WITH TIME ZONE))",
                   {"entity": entity, "as_of": as_of.isoformat(), "rules_hash": rules_hash, "now": now})


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
    if incremental:
        t = time.perf_counter()
        _fill_scope(engine, entity)
        summary.timings["05_scope"] = summary.timings.get("05_scope", 0.0) + time.perf_counter() - t
    conf = {name: r.confidence for name, r in rules.rules.items()}
    state = {name: ("auto" if r.auto else "suggested") for name, r in rules.rules.items()}
    kinds = ", ".join(str(k) for k, rule in KIND_RULE.items() if rules.rule(rule).enabled)
    context = {
        "entity": True, "incremental": incremental, "invoices_table": "int_invoices", "min_len": rules.reference.min_key_length,
        "min_tail": rules.reference.min_tail_length, "max_inv": rules.reference.max_invoices_per_payment,
        "conf": conf, "state": state, "kinds": kinds or "0", "tol": rules.tolerances, "erp": rules.erp,
        "payout_days": rules.windows.payout_to_bank_days,
        "affected_only": incremental and bool(last_as_of) and str(last_as_of[0][0]) == as_of.isoformat(),
    }
    params = {"entity": entity, "as_of": as_of.isoformat(), "now": now}
    runner = _Runner(engine, rules, context, params, summary)
    for name in ("10_inputs.sql", "15_credit_notes.sql", "20_candidates.sql", "30_allocate.sql"):
        runner.run_file(name)
    summary.payments_in_scope += int(engine.query("SELECT count(*) FROM rc_pay")[0][0])
    t = time.perf_counter()
    outcome = residue.load_and_run(engine, lambda _e: rules, max_inv=rules.reference.max_invoices_per_payment)
    _insert(engine, "rc_match", outcome.matches)
    _insert(engine, "rc_exc", outcome.exceptions)
    summary.residue_payments += len({m["payment_id"] for m in outcome.matches} | {e["payment_id"] for e in outcome.exceptions})
    summary.timings["35_residue"] = summary.timings.get("35_residue", 0.0) + time.perf_counter() - t
    with engine.transaction():
        for name in ("40_adjust.sql", "50_exceptions.sql", "55_erp_agreement.sql", "60_write_match.sql",
                     "62_erp_invoices.sql", "64_write_exceptions.sql", "70_invoice.sql"):
            runner.run_file(name)
        t = time.perf_counter()
        if engine.name == "duckdb":  # bookkeeping rewritten every run: not worth DuckDB's compression analysis
            engine.execute("SET force_compression = 'uncompressed'")
        try:
            _save_state(engine, entity, incremental, rules_hash, as_of, now)
        finally:
            if engine.name == "duckdb":
                engine.execute("RESET force_compression")
        summary.timings["80_state"] = summary.timings.get("80_state", 0.0) + time.perf_counter() - t
    drop_work_tables(engine)


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
    decisions = load_decisions(engine, entity)
    for ent in entities:
        _reconcile_entity(engine, ent, base.for_entity(ent), as_of, incremental, decisions, summary, now)
    summary.entities = entities
    where = " WHERE entity = :entity" if entity else ""
    p = {"entity": entity} if entity else None
    summary.matches = {str(s): int(n) for s, n in engine.query(f"SELECT state, count(*) FROM fct_match{where} GROUP BY state", p)}
    summary.rules = {str(s): int(n) for s, n in engine.query(f"SELECT rule, count(*) FROM fct_match{where} GROUP BY rule", p)}
    open_where = (where + " AND" if where else " WHERE") + " resolved_at IS NULL"
    summary.exceptions = {str(k): int(n) for k, n in engine.query(
        f"SELECT kind, count(*) FROM fct_reconciliation_exception{open_where} GROUP BY kind", p)}
    summary.seconds = time.perf_counter() - started
    log.info("reconciled %s in %.2fs: matches %s, open exceptions %s", ",".join(entities) or "-", summary.seconds,
             dict(Counter(summary.matches)), summary.exceptions)
    return summary
