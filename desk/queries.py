"""Every figure and row the desk shows, read from the warehouse's contract tables and marts.

Each function takes the entity (or the list of entities in the user's scope) as
a parameter and filters on it in SQL: there is no query here that returns rows
of every entity, so a page cannot leak another entity by forgetting a filter.
Figures come from the ``mart_*`` tables; the rows behind a figure come from
``fct_*`` with the same definition, so a person can check one against the other.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from warehouse.engine import Engine
from warehouse.summary import entity_dso

BUCKETS = ("not_due", "1_30", "31_60", "61_90", "over_90")
OPEN_STATUSES = ("not_due", "overdue", "partially_paid", "disputed")

# The status of an open item at the as-of date, as mart_open_receivables classifies it.
_DESK_STATUS = (
    "CASE WHEN coalesce(i.disputed, FALSE) OR i.status = 'disputed' THEN 'disputed' "
    "WHEN i.doc_type = 'invoice' AND i.amount_open > 0 AND i.amount_open < i.amount_total THEN 'partially_paid' "
    "WHEN i.due_date < CAST(:as_of AS DATE) THEN 'overdue' ELSE 'not_due' END"
)
_DAYS_LATE = "(CAST(:as_of AS DATE) - i.due_date)"
_BUCKET = (
    f"CASE WHEN i.due_date IS NULL OR {_DAYS_LATE} <= 0 THEN 'not_due' WHEN {_DAYS_LATE} <= 30 THEN '1_30' "
    f"WHEN {_DAYS_LATE} <= 60 THEN '31_60' WHEN {_DAYS_LATE} <= 90 THEN '61_90' ELSE 'over_90' END"
)
_OPEN = "i.amount_open <> 0 AND i.status NOT IN ('paid', 'credited', 'written_off')"


def entities(engine: Engine) -> list[str]:
    """Entities the warehouse knows (before scoping to a user).

    Read from the small per-entity marts (DSO, KPIs), not by scanning fct_invoice: this runs on every page.
    """
    if not engine.table_exists("fct_invoice"):
        return []
    rows = engine.query("SELECT DISTINCT entity FROM mart_dso")
    if not rows:
        rows = engine.query("SELECT DISTINCT entity FROM fct_invoice")
    return sorted(str(r[0]) for r in rows if r[0] is not None)


def version(engine: Engine, entity: str) -> str:
    """Changes whenever the entity's matches or marts may have changed: the key of cached figures."""
    rec = engine.query("SELECT max(finished_at) FROM reconcile_run WHERE entity = :e", {"e": entity}) \
        if engine.table_exists("reconcile_run") else [(None,)]
    mart = engine.query("SELECT max(_loaded_at) FROM mart_open_receivables WHERE entity = :e", {"e": entity})
    return f"{rec[0][0]}|{mart[0][0]}"


def versions(engine: Engine, scope: list[str]) -> str:
    """:func:`version` of several entities in two queries (the work queue's cache key)."""
    if not scope:
        return ""
    marks = ", ".join(f":s{n}" for n in range(len(scope)))
    params = {f"s{n}": e for n, e in enumerate(scope)}
    rec = dict(engine.query(f"SELECT entity, max(finished_at) FROM reconcile_run WHERE entity IN ({marks}) "
                            "GROUP BY entity", params)) if engine.table_exists("reconcile_run") else {}
    mart = dict(engine.query(f"SELECT entity, max(_loaded_at) FROM mart_open_receivables WHERE entity IN ({marks}) "
                             "GROUP BY entity", params))
    return ";".join(f"{e}={rec.get(e)}|{mart.get(e)}" for e in scope)


def as_of(engine: Engine, entity: str) -> date | None:
    """The date the marts were built for (the last sync), for this entity."""
    rows = engine.query("SELECT max(as_of) FROM mart_open_receivables WHERE entity = :e", {"e": entity})
    if rows and rows[0][0]:
        return rows[0][0] if isinstance(rows[0][0], date) else date.fromisoformat(str(rows[0][0]))
    rows = engine.query("SELECT max(as_of) FROM mart_dso WHERE entity = :e", {"e": entity})
    return rows[0][0] if rows and rows[0][0] else None


def month_ends(engine: Engine, entity: str) -> list[date]:
    """Past month ends with history (the as-of picker's choices besides the last sync)."""
    return [r[0] for r in engine.query(
        "SELECT DISTINCT month_end FROM mart_dso WHERE entity = :e ORDER BY month_end DESC", {"e": entity})]


def encours_by_status(engine: Engine, entity: str) -> list[dict[str, Any]]:
    return engine.query_dicts(
        "SELECT status, currency, sum(amount_open) AS amount, sum(invoice_count) AS invoices "
        "FROM mart_open_receivables WHERE entity = :e GROUP BY status, currency ORDER BY currency, status",
        {"e": entity})


def encours_total(engine: Engine, entity: str) -> dict[str, Decimal]:
    """Open receivables per currency: the headline figure that a confirmed match lowers."""
    return {str(c): Decimal(a or 0) for c, a in engine.query(
        "SELECT currency, sum(amount_open) FROM mart_open_receivables WHERE entity = :e GROUP BY currency "
        "ORDER BY currency", {"e": entity})}


def aged_balance(engine: Engine, entity: str, month_end: date | None = None) -> list[dict[str, Any]]:
    """Amount per bucket and currency: the last sync from mart_aged_balance, a past month end from
    mart_receivables_impairment (which keeps the aged balance of every month end)."""
    if month_end is None:
        sql = ("SELECT bucket, currency, sum(amount_open) AS amount FROM mart_aged_balance WHERE entity = :e "
               "GROUP BY bucket, currency")
        return engine.query_dicts(sql, {"e": entity})
    return engine.query_dicts(
        "SELECT bucket, currency, sum(amount_open) AS amount FROM mart_receivables_impairment "
        "WHERE entity = :e AND month_end = CAST(:m AS DATE) GROUP BY bucket, currency", {"e": entity, "m": month_end})


def dso_trend(engine: Engine, entity: str, until: date | None, months: int = 12) -> list[dict[str, Any]]:
    """The entity's DSO in its currency (warehouse.summary.entity_dso): the last ``months`` month ends, oldest first."""
    return entity_dso(engine, entity, until)[-months:]


def kpis(engine: Engine, entity: str, month_end: date | None) -> dict[str, Any] | None:
    if not engine.table_exists("mart_collection_kpis"):
        return None
    return _one(
        engine,
        "SELECT * FROM mart_collection_kpis WHERE entity = :e "
        + ("AND measured_on <= CAST(:m AS DATE) " if month_end else "") + "ORDER BY month DESC LIMIT 1",
        {"e": entity, "m": month_end} if month_end else {"e": entity})


def match_rate(engine: Engine, entity: str) -> dict[str, Any]:
    """Cash payments and how many were matched automatically, confirmed, suggested (``mart_match_rate``).

    Read from the mart, which the mart step fills after every reconciliation: counting it here
    from fct_match cost 1.6 s per dashboard at a million invoices.
    """
    rows = engine.query_dicts(
        "SELECT payments, auto_matched AS auto, confirmed, suggested, auto_match_rate AS rate "
        "FROM mart_match_rate WHERE entity = :e", {"e": entity}) if engine.table_exists("mart_match_rate") else []
    if not rows:
        return {"payments": 0, "auto": 0, "confirmed": 0, "suggested": 0, "rate": None}
    r: dict[str, Any] = {k: int(rows[0][k] or 0) for k in ("payments", "auto", "confirmed", "suggested")}
    r["rate"] = None if rows[0]["rate"] is None else Decimal(rows[0]["rate"]).quantize(Decimal("0.0001"))
    return r


def open_exceptions(engine: Engine, entity: str) -> list[dict[str, Any]]:
    return engine.query_dicts(
        "SELECT kind, count(*) AS n, sum(amount) AS amount FROM fct_reconciliation_exception "
        "WHERE entity = :e AND resolved_at IS NULL GROUP BY kind ORDER BY count(*) DESC, kind", {"e": entity})


def top_overdue(engine: Engine, entity: str, limit: int = 10) -> list[dict[str, Any]]:
    return engine.query_dicts(
        "SELECT customer_id, max(customer_name) AS customer_name, currency, sum(amount_open) AS overdue "
        "FROM mart_aged_balance WHERE entity = :e AND bucket <> 'not_due' "
        "GROUP BY customer_id, currency HAVING sum(amount_open) > 0 ORDER BY sum(amount_open) DESC, customer_id "
        f"LIMIT {int(limit)}", {"e": entity})


def cash_forecast(engine: Engine, entity: str) -> list[dict[str, Any]]:
    if not engine.table_exists("mart_cash_forecast"):
        return []
    return engine.query_dicts(
        "SELECT horizon_days, currency, sum(expected_cash) AS expected, sum(open_amount) AS open_amount "
        "FROM mart_cash_forecast WHERE entity = :e AND period = 'horizon' GROUP BY horizon_days, currency "
        "ORDER BY horizon_days, currency", {"e": entity})


_BUCKET_DAYS = {"1_30": (1, 30), "31_60": (31, 60), "61_90": (61, 90), "over_90": (91, None), "past_due": (1, None)}


def _due_range(bucket: str, on: date, params: dict[str, Any]) -> list[str]:
    """The bucket as a due-date range too, so an index on due date serves it (same rows as the CASE)."""
    lo, hi = f"due_lo_{bucket}", f"due_hi_{bucket}"
    if bucket == "not_due":
        params[lo] = on
        return [f"(i.due_date IS NULL OR i.due_date >= CAST(:{lo} AS DATE))"]
    least, most = _BUCKET_DAYS[bucket]
    params[hi] = on - timedelta(days=least)
    clauses = [f"i.due_date <= CAST(:{hi} AS DATE)"]
    if most is not None:
        params[lo] = on - timedelta(days=most)
        clauses.append(f"i.due_date >= CAST(:{lo} AS DATE)")
    return clauses


def open_items(engine: Engine, entity: str, on: date, *, status: str | None = None, bucket: str | None = None,
               customer_id: str | None = None, limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
    """The invoices behind a figure: open at ``on`` (last sync), classified like the marts."""
    where = ["i.entity = :e", _OPEN]
    params: dict[str, Any] = {"e": entity, "as_of": on}
    if status:
        where.append(f"({_DESK_STATUS}) = :status")
        params["status"] = status
    if bucket:  # as a due-date range (the same rows as the CASE), so an index on due date serves it
        where.extend(_due_range(bucket, on, params))
    if status in ("overdue", "not_due"):
        where.extend(_due_range("past_due" if status == "overdue" else "not_due", on, params))
    if customer_id:
        where.append("i.customer_id = :c")
        params["c"] = customer_id
    return engine.query_dicts(
        f"SELECT i.invoice_id, i.invoice_number, i.customer_id, c.name AS customer_name, i.doc_type, i.issue_date, "
        f"i.due_date, i.currency, i.amount_total, i.amount_open, i.status, {_DESK_STATUS} AS desk_status, "
        f"{_BUCKET} AS bucket, {_DAYS_LATE} AS days_late "
        f"FROM fct_invoice AS i LEFT JOIN dim_customer AS c ON c.entity = i.entity AND c.customer_id = i.customer_id "
        f"WHERE {' AND '.join(where)} ORDER BY i.due_date, i.invoice_id LIMIT {int(limit)} OFFSET {int(offset)}", params)


def queue(engine: Engine, scope: list[str], *, kind: str | None = None, min_amount: Decimal | None = None,
          max_amount: Decimal | None = None, min_age_days: int | None = None, on: date | None = None,
          limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Suggested matches and open exceptions of the entities in scope, oldest payment first, a page at a time.

    Pages of 100 (``offset``): a person works the oldest first, and rendering hundreds of rows per click
    cost more than the query at a million invoices.

    ``kind`` is ``suggested`` or an exception kind; age is days since the payment was made
    (or, without a payment, since the exception was opened) at ``on``.
    """
    if not scope:
        return []
    marks = ", ".join(f":s{n}" for n in range(len(scope)))
    params: dict[str, Any] = {f"s{n}": e for n, e in enumerate(scope)}
    today = on or date.today()
    sql = (
        "SELECT * FROM ("
        " SELECT m.entity, 'suggested' AS kind, m.match_id AS item_id, m.payment_id, m.invoice_id, "
        "  m.amount_applied AS amount, m.currency, m.explanation AS detail, p.paid_on AS since, m.rule "
        " FROM fct_match AS m LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id "
        f" WHERE m.state = 'suggested' AND m.entity IN ({marks}) "
        " UNION ALL "
        " SELECT x.entity, x.kind, x.exception_id AS item_id, x.payment_id, x.invoice_id, x.amount, x.currency, "
        # a scalar lookup per exception (index on Postgres) rather than a join that scans every payment
        "  x.detail, coalesce((SELECT p.paid_on FROM fct_payment AS p WHERE p.entity = x.entity "
        "  AND p.payment_id = x.payment_id), CAST(x.opened_at AS DATE)) AS since, NULL AS rule "
        " FROM fct_reconciliation_exception AS x "
        f" WHERE x.resolved_at IS NULL AND x.entity IN ({marks})"
        ") AS q WHERE 1 = 1")
    if kind:
        sql += " AND q.kind = :kind"
        params["kind"] = kind
    if min_amount is not None:
        sql += " AND abs(q.amount) >= :amin"
        params["amin"] = min_amount
    if max_amount is not None:
        sql += " AND abs(q.amount) <= :amax"
        params["amax"] = max_amount
    if min_age_days is not None:
        sql += " AND (CAST(:on AS DATE) - q.since) >= :age"
        params["age"] = int(min_age_days)
        params["on"] = today
    sql += f" ORDER BY q.since, q.entity, q.item_id LIMIT {int(limit)} OFFSET {int(offset)}"
    rows = engine.query_dicts(sql, params)
    for r in rows:
        since = r["since"]
        r["age_days"] = (today - since).days if isinstance(since, date) else None
    return rows


def queue_kinds(engine: Engine, scope: list[str]) -> list[str]:
    if not scope:
        return []
    marks = ", ".join(f":s{n}" for n in range(len(scope)))
    params = {f"s{n}": e for n, e in enumerate(scope)}
    kinds = [str(r[0]) for r in engine.query(
        f"SELECT DISTINCT kind FROM fct_reconciliation_exception WHERE resolved_at IS NULL AND entity IN ({marks}) "
        "ORDER BY kind", params)]
    return ["suggested", *kinds]


def _one(engine: Engine, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The row a key names, or None (the pages answer 404 for None)."""
    rows = engine.query_dicts(sql, params)
    return rows[0] if rows else None


def match(engine: Engine, entity: str, match_id: str) -> dict[str, Any] | None:
    return _one(engine, "SELECT * FROM fct_match WHERE entity = :e AND match_id = :m",
                {"e": entity, "m": match_id})


def payment(engine: Engine, entity: str, payment_id: str) -> dict[str, Any] | None:
    return _one(engine, "SELECT * FROM fct_payment WHERE entity = :e AND payment_id = :p",
                {"e": entity, "p": payment_id})


def payment_matches(engine: Engine, entity: str, payment_id: str) -> list[dict[str, Any]]:
    """Every match (any state) of one payment, with its invoice: the candidates side by side."""
    return engine.query_dicts(
        "SELECT m.match_id, m.state, m.rule, m.confidence, m.explanation, m.amount_applied, m.currency, "
        "i.invoice_id, i.invoice_number, i.customer_id, c.name AS customer_name, i.due_date, i.amount_total, "
        "i.amount_open, i.status FROM fct_match AS m "
        "LEFT JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
        "LEFT JOIN dim_customer AS c ON c.entity = i.entity AND c.customer_id = i.customer_id "
        "WHERE m.entity = :e AND m.payment_id = :p ORDER BY m.state, m.confidence DESC, m.match_id",
        {"e": entity, "p": payment_id})


def exception(engine: Engine, entity: str, exception_id: str) -> dict[str, Any] | None:
    return _one(
        engine,
        "SELECT * FROM fct_reconciliation_exception WHERE entity = :e AND exception_id = :x",
        {"e": entity, "x": exception_id})


def invoice(engine: Engine, entity: str, invoice_id: str) -> dict[str, Any] | None:
    return _one(
        engine,
        "SELECT i.*, c.name AS customer_name FROM fct_invoice AS i LEFT JOIN dim_customer AS c "
        "ON c.entity = i.entity AND c.customer_id = i.customer_id WHERE i.entity = :e AND i.invoice_id = :i",
        {"e": entity, "i": invoice_id})


def invoice_matches(engine: Engine, entity: str, invoice_id: str) -> list[dict[str, Any]]:
    return engine.query_dicts(
        # (a credit note paid back is applied a bank debit, no payment: its date is the debit's)
        "SELECT m.match_id, m.payment_id, m.state, m.rule, m.amount_applied, m.currency, m.matched_at, "
        "coalesce(p.paid_on, l.booking_date) AS paid_on, "
        "coalesce(p.channel, CASE WHEN l.bank_line_id IS NOT NULL THEN 'bank_transfer' END) AS channel "
        "FROM fct_match AS m LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id "
        "LEFT JOIN fct_bank_line AS l ON l.entity = m.entity AND l.bank_line_id = m.payment_id "
        "WHERE m.entity = :e AND m.invoice_id = :i ORDER BY m.matched_at, m.match_id", {"e": entity, "i": invoice_id})


def customer(engine: Engine, entity: str, customer_id: str) -> dict[str, Any] | None:
    return _one(engine, "SELECT * FROM dim_customer WHERE entity = :e AND customer_id = :c",
                {"e": entity, "c": customer_id})


def customer_behaviour(engine: Engine, entity: str, customer_id: str) -> dict[str, Any] | None:
    return _one(engine, "SELECT * FROM mart_customer_payment_behaviour WHERE entity = :e AND customer_id = :c",
                {"e": entity, "c": customer_id})


def customer_exposure(engine: Engine, entity: str, customer_id: str) -> dict[str, Any] | None:
    return _one(engine, "SELECT * FROM mart_credit_exposure WHERE entity = :e AND customer_id = :c",
                {"e": entity, "c": customer_id})


def reminders(engine: Engine, entity: str, *, customer_id: str | None = None,
              invoice_id: str | None = None) -> list[dict[str, Any]]:
    if not engine.table_exists("fct_dunning_action"):
        return []
    where, params = ["entity = :e"], {"e": entity}
    if customer_id:
        where.append("customer_id = :c")
        params["c"] = customer_id
    if invoice_id:
        where.append("invoice_id = :i")
        params["i"] = invoice_id
    return engine.query_dicts(
        f"SELECT invoice_id, step, channel, planned_on, sent_at, outcome FROM fct_dunning_action "
        f"WHERE {' AND '.join(where)} ORDER BY planned_on DESC, invoice_id LIMIT 200", params)


def decisions(engine: Engine, entity: str, *, invoice_id: str | None = None,
              customer_id: str | None = None) -> list[dict[str, Any]]:
    if not engine.table_exists("decision"):
        return []
    if invoice_id:
        return engine.query_dicts(
            "SELECT * FROM decision WHERE entity = :e AND invoice_id = :i ORDER BY created_at DESC",
            {"e": entity, "i": invoice_id})
    return engine.query_dicts(
        "SELECT d.* FROM decision AS d JOIN fct_invoice AS i ON i.entity = d.entity AND i.invoice_id = d.invoice_id "
        "WHERE d.entity = :e AND i.customer_id = :c ORDER BY d.created_at DESC LIMIT 100",
        {"e": entity, "c": customer_id})


def split_options(engine: Engine, entity: str, pay: dict[str, Any] | None, limit: int = 20) -> list[dict[str, Any]]:
    """Invoices a payment may be split across: its candidates, then the payer's other open invoices.

    Same currency, something open, oldest due first; the form also takes any other invoice id.
    """
    if not pay:
        return []
    return engine.query_dicts(
        "SELECT i.invoice_id, i.invoice_number, i.customer_id, i.due_date, i.amount_open, i.currency, "
        "CASE WHEN EXISTS (SELECT 1 FROM fct_match AS m WHERE m.entity = i.entity AND m.invoice_id = i.invoice_id "
        "AND m.payment_id = :p) THEN 0 ELSE 1 END AS rank FROM fct_invoice AS i "
        "WHERE i.entity = :e AND upper(i.currency) = upper(:cur) AND i.amount_open > 0 AND i.doc_type = 'invoice' "
        f"AND {_OPEN} AND (i.customer_id = :c OR i.invoice_id IN (SELECT m.invoice_id FROM fct_match AS m "
        "WHERE m.entity = :e AND m.payment_id = :p)) "
        f"ORDER BY rank, i.due_date, i.invoice_id LIMIT {int(limit)}",
        {"e": entity, "p": pay["payment_id"], "cur": pay["currency"], "c": pay.get("customer_id") or ""})


def pending_write_off(engine: Engine, entity: str, invoice_id: str) -> dict[str, Any] | None:
    """The write-off request of an invoice not yet settled by a write-off (who, when, how much), or None."""
    if not engine.table_exists("decision"):
        return None
    from warehouse.reconcile.decisions import pending_write_off_sql

    return _one(
        engine,
        "SELECT d.id, d.actor, d.created_at, d.amount, d.reason FROM decision AS d WHERE d.entity = :e "
        "AND d.invoice_id = :i AND d.kind = 'write_off_request' AND EXISTS (SELECT 1 FROM fct_invoice AS i "
        f"WHERE i.entity = d.entity AND i.invoice_id = d.invoice_id AND {pending_write_off_sql('i')}) "
        "ORDER BY d.created_at DESC LIMIT 1", {"e": entity, "i": invoice_id})


def forecast_vs_actual(engine: Engine, entity: str, on: date | None, months: int = 6) -> list[dict[str, Any]]:
    """The back-test of ``reports.backtest`` (the forecast of mart_cash_forecast as of each past month end
    against what was collected in its 30-day horizon), for one entity; reused, not recomputed here."""
    if on is None or not engine.table_exists("fct_match"):
        return []
    from reports.backtest import forecast_backtest

    return [r for r in forecast_backtest(engine, on, months=months) if r["entity"] == entity]
