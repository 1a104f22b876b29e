"""The figures finance wants first, read from the warehouse (never computed elsewhere).

Used by the CLI and the demo printout and by the flows' Prefect artifacts, so
what a person sees and what the warehouse holds cannot disagree.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from warehouse.contract import AGING_BUCKETS
from warehouse.engine import Engine

# Output column -> value of the mart's split column; keys stay valid identifiers for templates.
ENCOURS_SPLIT: dict[str, str] = {s: s for s in ("not_due", "overdue", "partially_paid", "disputed")}
AGED_SPLIT: dict[str, str] = {("d" + b if b[0].isdigit() else b): b for b in AGING_BUCKETS}


def _split_by_entity(engine: Engine, mart: str, column: str, split: dict[str, str]) -> list[dict[str, Any]]:
    """Open amount per entity and currency, one column per value of ``column``, plus the total.

    A warehouse whose marts were never built answers no rows rather than an error,
    so the CLI and the artifacts can print before the first sync.
    """
    if not engine.table_exists(mart):
        return []
    parts = "".join(
        f"sum(CASE WHEN {column} = '{value}' THEN amount_open ELSE 0 END) AS {alias},\n" for alias, value in split.items()
    )
    return engine.query_dicts(
        f"SELECT entity, currency,\n{parts}sum(amount_open) AS total\n"
        f"FROM {mart}\nGROUP BY entity, currency\nORDER BY entity, currency"
    )


def marts_as_of(engine: Engine) -> date | None:
    """The date the marts' figures are as of (the last sync, backfill or reconcile), None before any.

    Statuses, ageing and the marts are computed for one date at each refresh and kept for that date
    only: a report for another date must say so rather than print these figures under its date."""
    if not engine.table_exists("mart_open_receivables"):
        return None
    value = engine.query("SELECT max(as_of) FROM mart_open_receivables")[0][0]
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def entity_dso(engine: Engine, entity: str, until: date | None = None) -> list[dict[str, Any]]:
    """The entity's DSO per month end, oldest first: month_end, currency, receivables, dso_countback, dso_simple.

    The whole entity in its currency (``mart_dso_entity``): the figure a report or a dashboard heads with. An entity
    ``entities.yaml`` gives no currency has none; when it invoices in one currency only, that currency's
    ``mart_dso`` rows are its DSO. Several currencies and no entity currency: no DSO, rather than one currency's
    figure under the entity's name (a report headed with its USD rows)."""
    cols = "month_end, currency, receivables, dso_countback, dso_simple"
    params: dict[str, Any] = {"e": entity, **({"u": until} if until else {})}
    upto = " AND month_end <= CAST(:u AS DATE)" if until else ""
    for mart in ("mart_dso_entity", "mart_dso"):
        if not engine.table_exists(mart):
            continue
        rows = engine.query_dicts(f"SELECT {cols} FROM {mart} WHERE entity = :e{upto} ORDER BY month_end", params)
        if rows and len({r["currency"] for r in rows}) == 1:
            return rows
    return []


def open_receivables(engine: Engine) -> list[dict[str, Any]]:
    """Encours per entity and currency, split by status."""
    return _split_by_entity(engine, "mart_open_receivables", "status", ENCOURS_SPLIT)


def unapplied_cash(engine: Engine) -> dict[tuple[str, str], Decimal]:
    """Customer cash not applied to any invoice, per (entity, currency), from ``mart_unapplied_cash``.

    The encours counts invoices only (its contract definition); this is the customer credit
    beside it, so that encours minus unapplied cash is the balance the customer ledger shows.
    Empty before the marts are built.
    """
    if not engine.table_exists("mart_unapplied_cash"):
        return {}
    return {(str(e), str(c)): Decimal(v) for e, c, v in engine.query(
        "SELECT entity, currency, sum(amount_unapplied) FROM mart_unapplied_cash GROUP BY entity, currency")}


def aged_balance(engine: Engine) -> list[dict[str, Any]]:
    """Balance âgée per entity and currency, one column per bucket (d1_30, d31_60, …)."""
    return _split_by_entity(engine, "mart_aged_balance", "bucket", AGED_SPLIT)


def match_stats(engine: Engine) -> list[dict[str, Any]]:
    """Per entity: cash payments, how many have an applied match, suggestions and open exceptions."""
    return engine.query_dicts(
        """
        WITH p AS (
            SELECT entity, payment_id FROM fct_payment
            WHERE channel <> 'erp' AND status = 'succeeded'
        ),
        applied AS (
            SELECT DISTINCT entity, payment_id FROM fct_match WHERE state IN ('auto', 'confirmed')
        ),
        suggested AS (
            SELECT DISTINCT entity, payment_id FROM fct_match WHERE state = 'suggested'
        ),
        exc AS (
            SELECT entity, count(*) AS n FROM fct_reconciliation_exception
            WHERE resolved_at IS NULL GROUP BY entity
        )
        SELECT p.entity,
               count(*) AS payments,
               count(a.payment_id) AS matched,
               count(s.payment_id) AS suggested,
               max(coalesce(exc.n, 0)) AS open_exceptions
        FROM p
        LEFT JOIN applied AS a ON a.entity = p.entity AND a.payment_id = p.payment_id
        LEFT JOIN suggested AS s ON s.entity = p.entity AND s.payment_id = p.payment_id
        LEFT JOIN exc ON exc.entity = p.entity
        GROUP BY p.entity
        ORDER BY p.entity
        """
    )


def table_counts(engine: Engine, tables: list[str]) -> dict[str, int]:
    return {t: int(engine.query(f'SELECT count(*) FROM "{t}"')[0][0]) for t in tables if engine.table_exists(t)}


def fmt_money(value: Decimal | None) -> str:
    return f"{(value or Decimal(0)):,.2f}"
