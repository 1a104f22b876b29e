"""The figures finance wants first, read from the warehouse (never computed elsewhere).

Used by the CLI and the demo printout and by the flows' Prefect artifacts, so
what a person sees and what the warehouse holds cannot disagree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from warehouse.engine import Engine


def open_receivables(engine: Engine) -> list[dict[str, Any]]:
    """Encours per entity and currency, split by status."""
    return engine.query_dicts(
        """
        SELECT entity, currency,
               sum(CASE WHEN status = 'not_due' THEN amount_open ELSE 0 END) AS not_due,
               sum(CASE WHEN status = 'overdue' THEN amount_open ELSE 0 END) AS overdue,
               sum(CASE WHEN status = 'partially_paid' THEN amount_open ELSE 0 END) AS partially_paid,
               sum(CASE WHEN status = 'disputed' THEN amount_open ELSE 0 END) AS disputed,
               sum(amount_open) AS total
        FROM mart_open_receivables
        GROUP BY entity, currency
        ORDER BY entity, currency
        """
    )


def aged_balance(engine: Engine) -> list[dict[str, Any]]:
    """Balance âgée per entity and currency, one column per bucket."""
    return engine.query_dicts(
        """
        SELECT entity, currency,
               sum(CASE WHEN bucket = 'not_due' THEN amount_open ELSE 0 END) AS not_due,
               sum(CASE WHEN bucket = '1_30' THEN amount_open ELSE 0 END) AS d1_30,
               sum(CASE WHEN bucket = '31_60' THEN amount_open ELSE 0 END) AS d31_60,
               sum(CASE WHEN bucket = '61_90' THEN amount_open ELSE 0 END) AS d61_90,
               sum(CASE WHEN bucket = 'over_90' THEN amount_open ELSE 0 END) AS over_90,
               sum(amount_open) AS total
        FROM mart_aged_balance
        GROUP BY entity, currency
        ORDER BY entity, currency
        """
    )


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
