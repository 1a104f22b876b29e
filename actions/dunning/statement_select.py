"""Facts for statements of account, gathered set-based per entity (see :mod:`actions.dunning.statements`).

Open items come from ``fct_invoice``; payments from ``fct_match`` (what was applied
to the customer's invoices, dated by ``fct_payment.paid_on``) plus the customer's
succeeded payments not yet applied (ERP mirror rows of bank receipts left out:
the bank line itself is the payment); credits are credit notes issued in the window.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from actions.dunning.statements import Account, Movement, OpenItem
from lettrage.errors import ConfigurationError
from warehouse.engine import Engine
from warehouse.reconcile.decisions import disputed_now_sql

CLOSED = ("paid", "credited", "written_off", "factored")


def last_statements(engine: Engine, entity: str) -> dict[str, date]:
    """Day of the last statement actually sent, per customer (the outbox is the record)."""
    if not engine.table_exists("dunning_outbox"):
        return {}
    return {str(c): d for c, d in engine.query(
        "SELECT customer_id, max(as_of) FROM dunning_outbox WHERE entity = :entity AND kind = 'statement' "
        "AND state = 'sent' GROUP BY customer_id", {"entity": entity}) if c is not None}


def _q(engine: Engine, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Query with only the parameters the statement names (DuckDB refuses extra ones)."""
    return engine.query_dicts(sql, {k: v for k, v in params.items() if re.search(rf":{k}\b", sql)})


def _in(name: str, values: list[str]) -> tuple[str, dict[str, Any]]:
    marks = ", ".join(f":{name}{n}" for n in range(len(values)))
    return marks, {f"{name}{n}": v for n, v in enumerate(values)}


def accounts(engine: Engine, entity: str, as_of: date, window_start: date,
             customers: list[str] | None = None) -> list[Account]:
    """Every customer of the entity (or the named ones) with its open items and movements after ``window_start``."""
    if not engine.table_exists("fct_invoice") or not engine.table_exists("dim_customer"):
        raise ConfigurationError("no fct_invoice/dim_customer in the warehouse: build it before sending statements")
    params: dict[str, Any] = {"entity": entity, "since": window_start, "as_of": as_of}
    only_c = only_i = only_p = ""
    if customers:
        marks, extra = _in("c", customers)
        params.update(extra)
        only_c, only_i, only_p = (f" AND c.customer_id IN ({marks})", f" AND i.customer_id IN ({marks})",
                                  f" AND p.customer_id IN ({marks})")
    out = {str(r["customer_id"]): Account(entity, str(r["customer_id"]), r["name"], r["email"], r["country"])
           for r in _q(engine, "SELECT c.customer_id, c.name, c.email, c.country FROM dim_customer AS c "
                                       f"WHERE c.entity = :entity{only_c} ORDER BY c.customer_id", params)}
    if customers:
        missing = sorted(set(customers) - set(out))
        if missing:
            raise ConfigurationError(f"no customer {', '.join(missing)} of {entity} in dim_customer")
    for cid, day in last_statements(engine, entity).items():
        if cid in out:
            out[cid].last_statement = day
    # (in dispute as the last reconcile saw it, unless a person closed the dispute since, or by one recorded since)
    disputed = disputed_now_sql(engine, "i")
    closed = ", ".join(f"'{s}'" for s in CLOSED)
    for r in _q(
            engine, "SELECT i.customer_id, i.invoice_id, i.invoice_number, i.doc_type, i.issue_date, i.due_date, "
            f"i.currency, i.amount_total, i.amount_open, {disputed} AS disputed FROM fct_invoice AS i WHERE i.entity = :entity AND i.amount_open <> 0 "
            "AND (i.issue_date IS NULL OR i.issue_date <= :as_of) "
            f"AND i.status NOT IN ({closed}) AND NOT coalesce(i.factored, FALSE){only_i} "
            "ORDER BY i.customer_id, i.due_date, i.invoice_number", params):
        acc = out.get(str(r["customer_id"]))
        if acc is not None:
            acc.open_items.append(OpenItem(
                str(r["invoice_id"]), str(r["invoice_number"] or r["invoice_id"]), str(r["doc_type"]),
                r["issue_date"], r["due_date"], str(r["currency"]).upper(), Decimal(r["amount_total"]),
                Decimal(r["amount_open"]), bool(r["disputed"])))
    for customer_id, movement in _movements(engine, params, only_i, only_p):
        acc = out.get(customer_id)
        if acc is not None:
            acc.movements.append(movement)
    return list(out.values())


def _movements(engine: Engine, params: dict[str, Any], only_i: str, only_p: str) -> list[tuple[str, Movement]]:
    found: list[tuple[str, Movement]] = []
    if engine.table_exists("fct_match") and engine.table_exists("fct_payment"):
        applied: dict[tuple[str, str], dict[str, Any]] = {}
        for r in _q(
                engine, "SELECT i.customer_id, p.payment_id, p.channel, p.paid_on, upper(p.currency) AS currency, "
                "m.amount_applied, i.invoice_number FROM fct_match AS m "
                "JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id "
                "JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
                "WHERE m.entity = :entity AND m.state IN ('auto', 'confirmed') AND p.paid_on > :since "
                f"AND p.paid_on <= :as_of{only_i} ORDER BY p.paid_on, p.payment_id, i.invoice_number", params):
            key = (str(r["customer_id"]), str(r["payment_id"]))
            row = applied.setdefault(key, {**r, "amount": Decimal(0), "numbers": []})
            row["amount"] += Decimal(r["amount_applied"])
            row["numbers"].append(str(r["invoice_number"]))
        found += [(c, Movement(r["paid_on"], "payment", pid, r["amount"], r["currency"], r["channel"],
                               tuple(r["numbers"]))) for (c, pid), r in applied.items()]
        for r in _q(
                engine, "SELECT p.customer_id, p.payment_id, p.channel, p.paid_on, upper(p.currency) AS currency, "
                "p.amount "
                "FROM fct_payment AS p WHERE p.entity = :entity AND p.customer_id IS NOT NULL "
                "AND p.status = 'succeeded' AND p.channel <> 'erp' AND p.paid_on > :since AND p.paid_on <= :as_of "
                "AND NOT EXISTS (SELECT 1 FROM fct_match AS m WHERE m.entity = p.entity AND m.payment_id = p.payment_id "
                f"AND m.state IN ('auto', 'confirmed')){only_p} ORDER BY p.paid_on, p.payment_id", params):
            found.append((str(r["customer_id"]), Movement(r["paid_on"], "payment", str(r["payment_id"]),
                                                          Decimal(r["amount"]), r["currency"], r["channel"])))
    if engine.table_exists("fct_match") and engine.table_exists("int_credit_note_refunds"):
        # credit notes paid back to the customer (the day the money left: int_credit_note_refunds)
        for r in _q(
                engine, "SELECT i.customer_id, i.invoice_number, i.invoice_id, r.refunded_on, "
                "upper(m.currency) AS currency, -m.amount_applied AS amount FROM fct_match AS m "
                "JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
                "JOIN int_credit_note_refunds AS r ON r.entity = m.entity AND r.cn_id = m.invoice_id "
                "AND r.refund_id = m.payment_id "
                "WHERE m.entity = :entity AND m.rule = 'credit_note_refund' AND m.state IN ('auto', 'confirmed') "
                f"AND r.refunded_on > :since AND r.refunded_on <= :as_of{only_i} ORDER BY r.refunded_on, i.invoice_number",
                params):
            found.append((str(r["customer_id"]), Movement(r["refunded_on"], "refund",
                                                          str(r["invoice_number"] or r["invoice_id"]),
                                                          Decimal(r["amount"]), r["currency"])))
    for r in _q(
            engine, "SELECT i.customer_id, i.invoice_number, i.invoice_id, i.issue_date, upper(i.currency) AS currency, "
            "i.amount_total FROM fct_invoice AS i WHERE i.entity = :entity AND i.doc_type = 'credit_note' "
            f"AND i.issue_date > :since AND i.issue_date <= :as_of{only_i} ORDER BY i.issue_date, i.invoice_number",
            params):
        found.append((str(r["customer_id"]), Movement(r["issue_date"], "credit_note",
                                                      str(r["invoice_number"] or r["invoice_id"]),
                                                      abs(Decimal(r["amount_total"])), r["currency"])))
    return found
