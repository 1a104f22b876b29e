"""Facts about open invoices, gathered set-based from the warehouse (one statement per entity).

The SQL only *collects* (customer, disputes, mandates, payments in transit,
matches since the last sync); :mod:`actions.dunning.rules` decides. Tables a
warehouse may not have yet (GoCardless raw tables, decisions, reconcile_run)
simply contribute nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from actions.dunning.model import InvoiceFacts
from actions.in_transit import for_invoice, transit_sql
from lettrage.errors import ConfigurationError
from mappings.dunning import DunningRules
from warehouse.engine import Engine
from warehouse.reconcile.decisions import disputed_now_sql, open_dispute_sql, pending_write_off_sql

MANDATE_LIVE = ("active", "pending_submission", "submitted")
_LIVE_SQL = ", ".join(f"'{s}'" for s in MANDATE_LIVE)  # (as an SQL list)


def last_reconcile(engine: Engine, entity: str) -> datetime | None:
    """When the entity's last successful reconciliation finished (None if never)."""
    if not engine.table_exists("reconcile_run"):
        return None
    rows = engine.query("SELECT max(finished_at) FROM reconcile_run WHERE entity = :entity", {"entity": entity})
    value = rows[0][0] if rows else None
    if isinstance(value, datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def check_freshness(engine: Engine, entity: str, now: datetime, rules: DunningRules) -> str | None:
    """None when fresh enough; otherwise the message explaining why the run must not send."""
    finished = last_reconcile(engine, entity)
    limit = timedelta(hours=rules.freshness.max_reconcile_age_hours)
    if finished is None:
        return (f"{entity}: no successful reconciliation recorded (table reconcile_run): run the nightly sync "
                "before sending reminders, or reminders could chase money already received")
    if now - finished > limit:
        return (f"{entity}: last successful reconciliation finished {finished:%Y-%m-%d %H:%M} UTC, older than "
                f"{rules.freshness.max_reconcile_age_hours} h: run the sync first (reminders could chase "
                "money already received)")
    return None


def live_mandate_sql(engine: Engine, invoice: str) -> str:
    """SQL: the live GoCardless mandate (if any) that collects for the customer of the invoice aliased ``invoice``.

    A mandate is the customer's when int_mandates resolved it so (metadata, its payments' customer, the signer's
    email), or, when int_mandates could not tell, when the reconciliation applied one of its collections to an
    invoice of that customer: a mandate signed online under another name than the ERP's still collects for it."""
    matched = ""
    if engine.table_exists("fct_match") and engine.table_exists("fct_payment"):
        matched = (
            " OR (md.customer_id IS NULL AND EXISTS (SELECT 1 FROM fct_payment AS mp JOIN fct_match AS mm "
            "ON mm.entity = mp.entity AND mm.payment_id = mp.payment_id JOIN fct_invoice AS mi "
            "ON mi.entity = mm.entity AND mi.invoice_id = mm.invoice_id WHERE mp.entity = md.entity "
            "AND mp.mandate_id = md.mandate_id AND mm.state IN ('auto', 'confirmed') "
            f"AND mi.customer_id = {invoice}.customer_id))")
    return (f"SELECT min(md.mandate_id) FROM int_mandates AS md WHERE md.entity = {invoice}.entity "
            f"AND md.status IN ({_LIVE_SQL}) AND (md.customer_id = {invoice}.customer_id{matched})")


def _cols(engine: Engine, table: str) -> set[str]:
    return set(engine.columns(table))


def facts_sql(engine: Engine) -> str:
    has_decision = engine.table_exists("decision")
    dispute = open_dispute_sql("i") if has_decision else "FALSE"
    # in dispute as the last reconcile saw it, unless a person closed the dispute since (the latest decision wins;
    # one recorded since is dispute_decision)
    disputed = disputed_now_sql(engine, "i", recorded_since=False)
    # an invoice someone asked to write off is not chased while the request is pending (the desk's action)
    write_off = pending_write_off_sql("i") if has_decision else "FALSE"
    mandate = "CAST(NULL AS VARCHAR)"
    if engine.table_exists("int_mandates"):
        mandate = f"({live_mandate_sql(engine, 'i')})"
    matched = "FALSE"
    if engine.table_exists("fct_match"):
        matched = ("EXISTS (SELECT 1 FROM fct_match AS m WHERE m.entity = i.entity AND m.invoice_id = i.invoice_id "
                   "AND m.state <> 'rejected' AND m.matched_at > :last_sync)")
        if has_decision:
            matched += (" OR EXISTS (SELECT 1 FROM decision AS d WHERE d.entity = i.entity AND d.invoice_id = "
                        "i.invoice_id AND d.kind = 'confirm_match' AND d.created_at > :last_sync)")
    transit = transit_sql(engine)
    in_transit_parts = []
    if transit:
        in_transit_parts.append(f"(SELECT min(t.what) FROM transit AS t WHERE {for_invoice(engine, 't', 'i')})")
    if engine.table_exists("fct_match"):
        # a payment suggested for the invoice, waiting for a person: on its way while it is recent; one received
        # before the look-back is money nobody claimed (an unapplied line, dunning.yaml), not a reason to wait
        stale = ("NOT EXISTS (SELECT 1 FROM fct_payment AS sp WHERE sp.entity = m.entity AND sp.payment_id = "
                 "m.payment_id AND sp.paid_on < :lookback)") if engine.table_exists("fct_payment") else "TRUE"
        in_transit_parts.append(
            "(SELECT min('payment ' || m.payment_id || ' matched, awaiting confirmation') FROM fct_match AS m "
            f"WHERE m.entity = i.entity AND m.invoice_id = i.invoice_id AND m.state = 'suggested' AND {stale})")
    in_transit = f"coalesce({', '.join(in_transit_parts)}, NULL)" if in_transit_parts else "CAST(NULL AS VARCHAR)"
    # the latest late-payment predictions of the entity on or before the run's date (the scenario may use them)
    predicted = "CAST(NULL AS DECIMAL(9,4)) AS probability_late, CAST(NULL AS VARCHAR) AS late_factors"
    predicted_join = ""
    if engine.table_exists("mart_invoice_prediction"):
        predicted = "pr.probability_late, pr.top_factors AS late_factors"
        predicted_join = (" LEFT JOIN mart_invoice_prediction AS pr ON pr.entity = i.entity AND pr.invoice_id = "
                          "i.invoice_id AND pr.as_of = (SELECT max(px.as_of) FROM mart_invoice_prediction AS px "
                          "WHERE px.entity = :entity AND px.as_of <= :as_of)")
    with_transit = f"WITH transit AS ({transit}) " if transit else ""
    terms = "c.payment_terms" if "payment_terms" in _cols(engine, "dim_customer") else "CAST(NULL AS VARCHAR)"
    return (
        f"{with_transit}SELECT i.entity, i.invoice_id, i.invoice_number, i.customer_id, i.issue_date, i.due_date, "
        f"i.currency, i.amount_total, i.amount_open, i.status, {disputed} AS disputed, "
        "coalesce(i.factored, FALSE) AS factored, c.name AS customer_name, c.email, c.country, c.segment, "
        f"c.account_owner, {terms} AS payment_terms, {dispute} AS dispute_decision, {mandate} AS mandate_id, ({matched}) AS matched_since_sync, "
        f"{in_transit} AS in_transit, {write_off} AS write_off_requested, {predicted} "
        "FROM fct_invoice AS i LEFT JOIN dim_customer AS c ON c.entity = i.entity AND c.customer_id = i.customer_id"
        f"{predicted_join} WHERE i.entity = :entity AND i.doc_type = 'invoice' AND i.amount_open > 0 "
        "AND i.due_date <= :horizon "
        "ORDER BY i.customer_id, i.due_date, i.invoice_number"
    )


def promises(engine: Engine, entity: str, default_days: int) -> dict[str, date]:
    """Latest promise-to-pay date per invoice: ``after_json.promised_on``, else recorded + default days."""
    if not engine.table_exists("decision"):
        return {}
    out: dict[str, date] = {}
    rows = engine.query_dicts(
        "SELECT invoice_id, after_json, created_at FROM decision WHERE entity = :entity AND kind = 'promise_to_pay' "
        "AND invoice_id IS NOT NULL ORDER BY created_at", {"entity": entity})
    for r in rows:
        promised: date | None = None
        try:
            raw = (json.loads(r["after_json"]) if r["after_json"] else {}).get("promised_on")
            promised = date.fromisoformat(str(raw)) if raw else None
        except (ValueError, TypeError, AttributeError):
            promised = None
        if promised is None:
            created = r["created_at"]
            promised = (created.date() if isinstance(created, datetime) else date.fromisoformat(str(created)[:10])) \
                + timedelta(days=default_days)
        out[str(r["invoice_id"])] = promised
    return out


def direct_debit_payers(engine: Engine, entity: str, as_of: date, lookback_days: int) -> dict[str, date]:
    """Customers the entity collects from by direct debit: the day of each one's last collection within
    ``lookback_days`` (its customer the payment's or its matched invoices'), unless a later collection from it
    failed or was returned. A collection is a ``PMNT/IDDT`` credit on the bank statements or a provider payment
    taken under a mandate (GoCardless, a Stripe SEPA debit).

    Why the bank and not only the providers: a company collecting through its own bank (a FEC or SAP book with
    SEPA batches on the statement) has no mandate table Lettrage reads, and reminding such a customer asks it
    to pay what the next collection takes, twice. Why the provider payments too: a customer whose mandate
    Lettrage cannot tie to it (no ERP id in the provider's metadata) still pays by direct debit."""
    if not engine.table_exists("fct_payment"):
        return {}
    bank = engine.table_exists("fct_bank_line")
    mandates = "mandate_id" in engine.columns("fct_payment")
    if not (bank or mandates):
        return {}
    matched = ""
    if engine.table_exists("fct_match"):
        matched = (", (SELECT min(i.customer_id) FROM fct_match AS m JOIN fct_invoice AS i ON i.entity = m.entity "
                   "AND i.invoice_id = m.invoice_id WHERE m.entity = p.entity AND m.payment_id = p.payment_id "
                   "AND m.state IN ('auto', 'confirmed'))")
    collected = " OR ".join(
        (["EXISTS (SELECT 1 FROM fct_bank_line AS b WHERE b.entity = p.entity AND b.bank_line_id = p.payment_id "
          "AND b.bank_tx_code LIKE '%/IDDT/%')"] if bank else [])
        # (a GoCardless mandate cancelled or expired since collects nothing more: int_mandates knows its status)
        + ([f"(p.mandate_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM int_mandates AS md WHERE md.entity = p.entity "
            f"AND md.mandate_id = p.mandate_id AND md.status NOT IN ({_LIVE_SQL})))"
            if engine.table_exists("int_mandates") else "p.mandate_id IS NOT NULL"] if mandates else []))
    rows = engine.query(
        f"SELECT coalesce(p.customer_id{matched}) AS customer_id, "
        "max(CASE WHEN p.status = 'succeeded' THEN p.paid_on END), max(CASE WHEN p.status IN ('failed', "
        "'charged_back') THEN p.paid_on END) FROM fct_payment AS p "
        f"WHERE p.entity = :entity AND ({collected}) AND p.paid_on > :since AND p.paid_on <= :as_of GROUP BY 1",
        {"entity": entity, "since": as_of - timedelta(days=lookback_days), "as_of": as_of})
    return {str(c): ok for c, ok, failed in rows if c is not None and ok is not None and (failed is None or failed < ok)}


def sent_history(engine: Engine, entity: str) -> dict[str, tuple[tuple[str, date], ...]]:
    """Email steps that actually left, per invoice, oldest first (``fct_dunning_action.sent_at`` set), each with
    its date: the day the run that planned it was for (``planned_on``, the date the reminder itself bears), else
    the day it left.

    Why not the outbox keys: a step recorded but never accepted by the mail server
    (failed, in review) was not received, so no wording may say "despite our reminder".
    Why the planned day: a run for a past day (``reminders send --as-of``, a catch-up) sends today what is dated
    that day; counted from today, the formal step's wait after it ran from the wrong day, and "despite our
    reminder of" named today.
    """
    if not engine.table_exists("fct_dunning_action"):
        return {}
    out: dict[str, list[tuple[str, date]]] = {}
    for invoice_id, step, planned_on, sent_at in engine.query(
            "SELECT invoice_id, step, planned_on, sent_at FROM fct_dunning_action WHERE entity = :entity "
            "AND sent_at IS NOT NULL AND channel = 'email' ORDER BY coalesce(planned_on, CAST(sent_at AS DATE)), "
            "sent_at, step", {"entity": entity}):
        when = planned_on if planned_on is not None else sent_at
        day = when.date() if isinstance(when, datetime) else date.fromisoformat(str(when)[:10])
        out.setdefault(str(invoice_id), []).append((str(step), day))
    return {k: tuple(v) for k, v in out.items()}


def _status(row: dict[str, Any], as_of: date) -> str:
    """The row's status, but for a dispute a person closed since the last reconcile (``disputed`` false on a row the
    reconcile wrote ``disputed``): what the invoice is without it, as 70_invoice would say next time."""
    status = str(row["status"] or "open")
    if status != "disputed" or row["disputed"]:
        return status
    if Decimal(row["amount_open"]) < Decimal(row["amount_total"] or 0):
        return "partially_paid"
    return "overdue" if row["due_date"] < as_of else "open"


def invoice_facts(engine: Engine, entity: str, as_of: date, rules: DunningRules,
                  done: dict[str, set[str]] | None = None) -> list[InvoiceFacts]:
    """Every open invoice of the entity due by the end of the earliest courtesy window."""
    if not engine.table_exists("fct_invoice"):
        raise ConfigurationError("no fct_invoice in the warehouse: build the warehouse before running reminders")
    lead = max(-min(s.offset_days for sc in rules.scenarios.values() for s in sc.steps), 0)
    last_sync = last_reconcile(engine, entity) or datetime(9999, 1, 1, tzinfo=UTC)
    params: dict[str, Any] = {
        "entity": entity, "as_of": as_of, "horizon": as_of + timedelta(days=lead), "last_sync": last_sync,
        "lookback": as_of - timedelta(days=rules.thresholds.in_transit_lookback_days),
    }
    sql = facts_sql(engine)
    used = {k: v for k, v in params.items() if f":{k}" in sql}
    rows = engine.query_dicts(sql, used)
    promised = promises(engine, entity, rules.thresholds.promise_default_days)
    sent = sent_history(engine, entity)
    debited = direct_debit_payers(engine, entity, as_of, rules.thresholds.direct_debit_lookback_days)
    done = done or {}
    return [
        InvoiceFacts(
            entity=r["entity"], invoice_id=str(r["invoice_id"]), invoice_number=str(r["invoice_number"] or r["invoice_id"]),
            customer_id=str(r["customer_id"]), due_date=r["due_date"], currency=str(r["currency"]).upper(),
            amount_open=Decimal(r["amount_open"]), amount_total=Decimal(r["amount_total"] or 0),
            issue_date=r["issue_date"], status=_status(r, as_of), customer_name=r["customer_name"],
            email=r["email"], country=r["country"], segment=r["segment"], account_owner=r["account_owner"],
            disputed=bool(r["disputed"]), factored=bool(r["factored"]), dispute_decision=bool(r["dispute_decision"]),
            promise_until=promised.get(str(r["invoice_id"])), mandate_id=r["mandate_id"],
            direct_debit_on=debited.get(str(r["customer_id"])),
            direct_debit_terms=r["payment_terms"] if rules.thresholds.names_direct_debit(r["payment_terms"]) else None,
            matched_since_sync=bool(r["matched_since_sync"]), in_transit=r["in_transit"],
            write_off_requested=bool(r["write_off_requested"]),
            steps_done=frozenset(done.get(str(r["invoice_id"]), ())),
            reminders_sent=sent.get(str(r["invoice_id"]), ()),
            probability_late=None if r["probability_late"] is None else Decimal(r["probability_late"]),
            late_factors=r["late_factors"],
        )
        for r in rows
    ]


def principal_events(engine: Engine, entity: str, invoice_ids: list[str]) -> dict[str, list[tuple[date, Decimal]]]:
    """Dated reductions of each invoice's principal (payments and credit notes applied), for the penalties."""
    if not invoice_ids or not engine.table_exists("fct_match"):
        return {}
    cols = _cols(engine, "fct_match")
    paid_on = "m.paid_on, " if "paid_on" in cols else ""
    adjustment = " + coalesce(m.adjustment, 0)" if "adjustment" in cols else ""
    marks = ", ".join(f":i{n}" for n in range(len(invoice_ids)))
    rows = engine.query(
        f"SELECT m.invoice_id, coalesce({paid_on}p.paid_on, cn.issue_date, CAST(m.matched_at AS DATE)) AS on_day, "
        f"m.amount_applied{adjustment} AS amount FROM fct_match AS m "
        "LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id "
        "LEFT JOIN fct_invoice AS cn ON cn.entity = m.entity AND cn.invoice_id = m.payment_id "
        f"WHERE m.entity = :entity AND m.state IN ('auto', 'confirmed') AND m.invoice_id IN ({marks})",
        {"entity": entity, **{f"i{n}": v for n, v in enumerate(invoice_ids)}})
    out: dict[str, list[tuple[date, Decimal]]] = {}
    for invoice_id, on_day, amount in rows:
        if on_day is not None and amount:
            out.setdefault(str(invoice_id), []).append((on_day, Decimal(amount)))
    return out
