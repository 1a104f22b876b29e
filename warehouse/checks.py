"""Checks beside the contract tables, runnable on DuckDB and Postgres alike.

Each check is one SQL query that returns the offending rows (none when the check
holds), in the spirit of dbt tests: unique and not-null keys of every contract
table, accepted values, and expressions finance relies on (the aged balance sums
to the open receivables). :func:`run_checks` returns a list of failures, empty
when the warehouse is sound; flows log them, tests assert on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from warehouse.contract import AGING_BUCKETS, CONTRACT, INVOICE_STATUSES, MATCH_STATES, Table
from warehouse.engine import Engine

__all__ = ["CheckFailure", "missing_fx_rates", "run_checks"]

# Keys that may legitimately hold NULL parts in a mart row (a forecast horizon row has no week).
_NULLABLE_KEY_PARTS: dict[str, tuple[str, ...]] = {"mart_cash_forecast": ("week_start",),
                                                   "mart_unapplied_cash": ("customer_id",)}  # unknown payer
# Mart keys extended where a mart row is finer than the contract's key (columns added to the contract).
_MART_KEYS: dict[str, tuple[str, ...]] = {
    "mart_cash_forecast": ("entity", "period", "horizon_days", "week_start", "currency"),
    "mart_receivables_impairment": ("entity", "customer_id", "bucket", "month_end", "currency"),
}


@dataclass(frozen=True, slots=True)
class CheckFailure:
    check: str
    table: str
    detail: str
    sample: list[dict[str, Any]]

    def __str__(self) -> str:
        return f"{self.table}: {self.check} failed: {self.detail} (e.g. {self.sample[:3]})"


def _key(table: Table) -> tuple[str, ...]:
    return _MART_KEYS.get(table.name, table.key)


def _unique_sql(table: Table) -> str:
    key = _key(table)
    cols = ", ".join(f'"{c}"' for c in key)
    return f'SELECT {cols}, count(*) AS n FROM "{table.name}" GROUP BY {cols} HAVING count(*) > 1'


def _not_null_sql(table: Table) -> str | None:
    nullable = _NULLABLE_KEY_PARTS.get(table.name, ())
    cols = [c for c in _key(table) if c not in nullable]
    if not cols:
        return None
    cond = " OR ".join(f'"{c}" IS NULL' for c in cols)
    return f'SELECT * FROM "{table.name}" WHERE {cond}'


def _values_sql(table: str, column: str, allowed: tuple[str, ...]) -> str:
    values = ", ".join(f"'{v}'" for v in allowed)
    return f'SELECT "{column}", count(*) AS n FROM "{table}" WHERE "{column}" NOT IN ({values}) GROUP BY "{column}"'


EXPRESSION_CHECKS: tuple[tuple[str, str, str], ...] = (
    (
        "aged_balance_sums_to_open_receivables", "mart_aged_balance",
        """
        WITH a AS (SELECT entity, customer_id, currency, sum(amount_open) AS aged FROM mart_aged_balance
                   GROUP BY entity, customer_id, currency),
             o AS (SELECT entity, customer_id, currency, sum(amount_open) AS encours FROM mart_open_receivables
                   GROUP BY entity, customer_id, currency)
        SELECT coalesce(a.entity, o.entity) AS entity, coalesce(a.customer_id, o.customer_id) AS customer_id,
               coalesce(a.currency, o.currency) AS currency, a.aged, o.encours
        FROM a FULL OUTER JOIN o ON a.entity = o.entity AND a.customer_id = o.customer_id AND a.currency = o.currency
        WHERE coalesce(a.aged, 0) <> coalesce(o.encours, 0)
        """,
    ),
    (
        "open_receivables_equal_open_invoices", "mart_open_receivables",
        """
        WITH o AS (SELECT entity, currency, max(as_of) AS as_of, sum(amount_open) AS encours
                   FROM mart_open_receivables GROUP BY entity, currency),
             i AS (SELECT entity, upper(currency) AS currency, sum(amount_open) AS open_now FROM fct_invoice
                   WHERE coalesce(status, '') NOT IN ('paid', 'credited', 'written_off')
                   GROUP BY entity, upper(currency))
        SELECT o.entity, o.currency, o.encours, i.open_now FROM o
        LEFT JOIN i ON i.entity = o.entity AND i.currency = o.currency
        WHERE o.as_of >= (SELECT coalesce(max(issue_date), o.as_of) FROM fct_invoice)
          AND o.encours <> coalesce(i.open_now, 0)
        """,
    ),
    (
        "impairment_total_is_collective_plus_specific", "mart_receivables_impairment",
        """
        SELECT * FROM mart_receivables_impairment
        WHERE provision_total <> provision_collective + provision_specific OR provision_total < 0
        """,
    ),
    (
        "exposure_headroom_is_limit_minus_exposure", "mart_credit_exposure",
        "SELECT * FROM mart_credit_exposure WHERE headroom <> credit_limit - exposure",
    ),
    (
        "scores_between_0_and_100", "mart_customer_payment_behaviour",
        "SELECT * FROM mart_customer_payment_behaviour WHERE score < 0 OR score > 100 "
        "OR on_time_rate < 0 OR on_time_rate > 1",
    ),
    (
        "forecast_never_exceeds_open", "mart_cash_forecast",
        "SELECT * FROM mart_cash_forecast WHERE expected_cash > open_amount OR expected_cash < 0",
    ),
    (
        "matches_point_at_invoices", "fct_match",
        """
        SELECT m.entity, m.match_id, m.invoice_id FROM fct_match AS m
        WHERE m.invoice_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM fct_invoice AS i WHERE i.entity = m.entity AND i.invoice_id = m.invoice_id)
        """,
    ),
)


def _run(engine: Engine, check: str, table: str, sql: str, failures: list[CheckFailure]) -> None:
    rows = engine.query_dicts(sql)
    if rows:
        failures.append(CheckFailure(check, table, f"{len(rows)} offending row(s)", rows[:5]))


def run_checks(engine: Engine, *, tables: tuple[Table, ...] = CONTRACT) -> list[CheckFailure]:
    """Run every check on the tables present; return the failures (empty when all hold)."""
    failures: list[CheckFailure] = []
    present = {t.name for t in tables if engine.table_exists(t.name)}
    for table in tables:
        if table.name not in present:
            continue
        _run(engine, "unique_key", table.name, _unique_sql(table), failures)
        not_null = _not_null_sql(table)
        if not_null:
            _run(engine, "not_null_key", table.name, not_null, failures)
    value_checks = (
        ("fct_invoice", "status", INVOICE_STATUSES), ("fct_match", "state", MATCH_STATES),
        ("fct_invoice", "doc_type", ("invoice", "credit_note")), ("mart_aged_balance", "bucket", AGING_BUCKETS),
        ("mart_open_receivables", "status", ("not_due", "overdue", "disputed", "partially_paid")),
        ("mart_customer_payment_behaviour", "segment", ("punctual", "occasional_late", "chronic_late", "at_risk")),
    )
    for table_name, column, allowed in value_checks:
        if table_name in present:
            _run(engine, f"accepted_values_{column}", table_name, _values_sql(table_name, column, allowed), failures)
    for check, table_name, sql in EXPRESSION_CHECKS:
        needed = {table_name, "fct_invoice"} if "fct_invoice" in sql else {table_name}
        if "mart_open_receivables" in sql:
            needed.add("mart_open_receivables")
        if needed <= present:
            _run(engine, check, table_name, sql, failures)
    return failures


def missing_fx_rates(engine: Engine, as_of: date) -> list[dict[str, Any]]:
    """Open amounts that cannot be shown in their entity's currency: no rate on or before ``as_of``.

    One row per (entity, currency, entity_currency) with the open amount left unconverted.
    Never papered over with a rate of 1.
    """
    return engine.query_dicts(
        """
        SELECT entity, currency, entity_currency, sum(amount_open) AS amount_open, count(*) AS mart_rows
        FROM mart_open_receivables
        WHERE amount_open_entity IS NULL AND as_of = :as_of
        GROUP BY entity, currency, entity_currency
        ORDER BY entity, currency
        """,
        {"as_of": as_of},
    )
