"""People stay in charge: decisions as append-only rows, and what they teach.

A decision (confirm or reject a match, dispute, promise to pay, write off,
resolve an exception) is never updated or deleted; every derived state is
recomputed from rules *plus* decisions on each run, so a confirmed or rejected
match survives every re-run and a rejected pair is never proposed again.

A confirmed match teaches the payer: its IBAN and its name as the bank writes
it (and, when an account of another customer paid, that parent relation) go to
``payer_alias`` with the decision as provenance; rule ``learned_alias`` uses them.

The sqlmodel classes describe the two tables; DDL and writes go through the
engine seam so they work identically on DuckDB and Postgres.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, get_args

from sqlmodel import Field, SQLModel

from lettrage.errors import DataError
from warehouse.contract import MONEY, TEXT, TS
from warehouse.engine import Engine
from warehouse.locks import named_lock
from warehouse.reconcile.references import fold
from warehouse.schema import ensure_table

DECISION_KINDS = ("confirm_match", "reject_match", "dispute", "promise_to_pay", "write_off", "resolve_exception",
                  "write_off_request", "erp_correction", "write_off_declined")
# What the newer kinds mean (none changes a match, so the reconciler does not read them):
#   write_off_request  a credit controller asks for ``amount`` to be written off; until a later ``write_off``
#                      decision (an admin approving it: the invoice's open amount falls by it, written_off when
#                      nothing is left) or ``write_off_declined`` settles it, reminders and factoring leave the
#                      invoice alone (:func:`pending_write_off_sql`).
#   erp_correction     the ERP must be corrected (a wrong lettrage, a duplicate...): a flag for the accountants'
#                      export, with the match, payment, invoice or exception it is about.
# A split of one payment across invoices is not a kind of its own: it is one ``confirm_match`` per invoice
# with the amount applied and no match id, which the reconciler already applies as a manual match
# (rule ``manual``); ``after_json.split`` ties the parts together.
ALIAS_KINDS = ("iban", "name", "parent")


class Decision(SQLModel, table=True):
    """One decision of a person; append-only."""

    __tablename__ = "decision"

    id: str = Field(primary_key=True)
    entity: str
    kind: str
    match_id: str | None = None
    payment_id: str | None = None
    invoice_id: str | None = None
    exception_id: str | None = None
    amount: Decimal | None = Field(default=None, max_digits=18, decimal_places=2)
    actor: str
    reason: str | None = None
    created_at: datetime
    before_json: str | None = None
    after_json: str | None = None


class PayerAlias(SQLModel, table=True):
    """A way a customer pays that a confirmed decision taught us."""

    __tablename__ = "payer_alias"

    entity: str = Field(primary_key=True)
    customer_id: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    value: str = Field(primary_key=True)
    decision_id: str
    created_at: datetime


def _logical(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)] or [annotation]
    base = args[0]
    if base is Decimal:
        return MONEY
    if base is datetime:
        return TS
    return TEXT


def model_columns(model: type[SQLModel]) -> list[tuple[str, str]]:
    """Logical columns of a sqlmodel class, in declaration order."""
    return [(name, _logical(field.annotation)) for name, field in model.model_fields.items()]


def ensure_decision_tables(engine: Engine) -> None:
    ensure_table(engine, "decision", model_columns(Decision))
    ensure_table(engine, "payer_alias", model_columns(PayerAlias))


def _insert(engine: Engine, table: str, row: SQLModel) -> None:
    data = row.model_dump()
    cols = ", ".join(f'"{c}"' for c in data)
    marks = ", ".join(f":{c}" for c in data)
    engine.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', data)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def record_decision(
    engine: Engine, *, entity: str, kind: str, actor: str, reason: str | None = None,
    match_id: str | None = None, payment_id: str | None = None, invoice_id: str | None = None,
    exception_id: str | None = None, amount: Decimal | None = None,
    before: dict[str, Any] | None = None, after: dict[str, Any] | None = None,
) -> Decision:
    """Append one decision; the next reconciliation run applies it."""
    if kind not in DECISION_KINDS:
        raise DataError(f"unknown decision kind {kind!r}; expected one of {', '.join(DECISION_KINDS)}")
    if not actor:
        raise DataError("a decision needs an actor (who decided)")
    if amount is not None and not isinstance(amount, Decimal):
        raise DataError(f"decision amount must be a Decimal, got {type(amount).__name__}")
    ensure_decision_tables(engine)
    decision = Decision.model_validate({
        "id": uuid.uuid4().hex, "entity": entity, "kind": kind, "match_id": match_id, "payment_id": payment_id,
        "invoice_id": invoice_id, "exception_id": exception_id, "amount": amount, "actor": actor,
        "reason": reason, "created_at": datetime.now(UTC),
        "before_json": json.dumps(before, default=_default, sort_keys=True) if before is not None else None,
        "after_json": json.dumps(after, default=_default, sort_keys=True) if after is not None else None,
    })
    _insert(engine, "decision", decision)
    return decision


def _match(engine: Engine, match_id: str) -> dict[str, Any]:
    rows = engine.query_dicts("SELECT * FROM fct_match WHERE match_id = :match_id", {"match_id": match_id})
    if not rows:
        raise DataError(f"no match {match_id!r} in fct_match; run the reconciliation first or check the id")
    return rows[0]


@contextmanager
def payment_decisions(engine: Engine, entity: str, payment_id: str) -> Iterator[None]:
    """One transaction in which nobody else decides on this payment: what it has left is checked and the decision
    written as one step. Two desk users confirming the payment's two rival suggestions at the same moment each saw
    it free, and it was applied twice. A lock per payment in this process (the desk's threads, DuckDB's one
    writer), and on Postgres a transaction-scoped advisory lock too (several desk workers)."""
    with named_lock(engine, f"decisions|{entity}|{payment_id}", transaction=True):
        yield


def confirmed_by_people(engine: Engine, entity: str, payment_id: str) -> dict[str, tuple[Decimal, str, str]]:
    """invoice -> (amount, actor, decision id) of each application of the payment people confirmed and did not
    take back since (the latest confirm or reject of each pair decides)."""
    if not engine.table_exists("decision"):
        return {}
    out: dict[str, tuple[Decimal, str, str]] = {}
    for r in engine.query_dicts(
            "SELECT invoice_id, kind, amount, actor, id FROM decision WHERE entity = :e AND payment_id = :p "
            "AND kind IN ('confirm_match', 'reject_match') AND invoice_id IS NOT NULL ORDER BY created_at, id",
            {"e": entity, "p": payment_id}):
        if r["kind"] == "confirm_match":
            out[str(r["invoice_id"])] = (Decimal(r["amount"] or 0), str(r["actor"]), str(r["id"]))
        else:
            out.pop(str(r["invoice_id"]), None)
    return out


def _room_for(engine: Engine, match: dict[str, Any]) -> None:
    """Refuse a confirmation that, with what people already confirmed of the same payment on other invoices,
    applies more than the payment (a rival suggestion confirmed by someone else a moment before)."""
    if match["rule"] == "credit_note":
        return
    pay = engine.query("SELECT amount, currency FROM fct_payment WHERE entity = :e AND payment_id = :p",
                       {"e": match["entity"], "p": match["payment_id"]})
    if not pay:
        return
    held = {i: v for i, v in confirmed_by_people(engine, match["entity"], match["payment_id"]).items()
            if i != match["invoice_id"]}
    taken = sum((a for a, _, _ in held.values()), Decimal(0))
    amount, currency = Decimal(pay[0][0]), pay[0][1]
    if taken + Decimal(match["amount_applied"] or 0) > amount:
        who = ", ".join(f"{i} {a} by {actor}" for i, (a, actor, _) in sorted(held.items()))
        raise DataError(f"payment {match['payment_id']} of {amount} {currency} is already applied by people ({who}): "
                        f"confirming {match['amount_applied']} more on {match['invoice_id']} would apply more than it "
                        "holds; reject that match first, or split the payment")


def confirm_match(engine: Engine, match_id: str, actor: str, reason: str | None = None) -> Decision:
    """Confirm a match (auto or suggested) and learn how its payer pays."""
    match = _match(engine, match_id)
    after = dict(match, state="confirmed")
    with payment_decisions(engine, match["entity"], match["payment_id"]):
        _room_for(engine, match)
        decision = record_decision(
            engine, entity=match["entity"], kind="confirm_match", actor=actor, reason=reason, match_id=match_id,
            payment_id=match["payment_id"], invoice_id=match["invoice_id"], amount=match["amount_applied"],
            before=match, after=after,
        )
    # (a credit note set against an invoice, or paid back by a transfer, says nothing about how a payer pays)
    if match["rule"] not in ("credit_note", "credit_note_refund"):
        learn_aliases(engine, decision)
    return decision


def reject_match(engine: Engine, match_id: str, actor: str, reason: str | None = None) -> Decision:
    """Reject a match: the pair is never proposed again, and what an earlier confirmation of it taught
    about the payer is unlearnt (:func:`revoke_aliases`)."""
    match = _match(engine, match_id)
    decision = record_decision(
        engine, entity=match["entity"], kind="reject_match", actor=actor, reason=reason, match_id=match_id,
        payment_id=match["payment_id"], invoice_id=match["invoice_id"], amount=match["amount_applied"],
        before=match, after=dict(match, state="rejected"),
    )
    revoke_aliases(engine, decision)
    return decision


def revoke_aliases(engine: Engine, rejection: Decision) -> int:
    """Delete the payer aliases the confirmations of the rejected pair taught; returns how many.

    A person who takes back "this payer pays for that customer" takes back what Lettrage learnt from it:
    the alias goes, and so must the matches the ``learned_alias`` rule made with it. Those are kept
    matches of payments an incremental run would not look at again, so the entity's next run is a full
    one (its run state is made stale): every payment is judged again without the alias.
    """
    taught = [str(r[0]) for r in engine.query(
        "SELECT id FROM decision WHERE entity = :entity AND kind = 'confirm_match' AND payment_id = :payment "
        "AND invoice_id = :invoice", {"entity": rejection.entity, "payment": rejection.payment_id,
                                      "invoice": rejection.invoice_id})]
    if not taught:
        return 0
    marks = ", ".join(f":d{i}" for i in range(len(taught)))
    params: dict[str, Any] = {"entity": rejection.entity, **{f"d{i}": d for i, d in enumerate(taught)}}
    count = int(engine.query(f"SELECT count(*) FROM payer_alias WHERE entity = :entity AND decision_id IN ({marks})",
                             params)[0][0])
    if count:
        engine.execute(f"DELETE FROM payer_alias WHERE entity = :entity AND decision_id IN ({marks})", params)
        if engine.table_exists("reconcile_run"):
            engine.execute("UPDATE reconcile_run SET rules_hash = 'aliases revoked' WHERE entity = :entity",
                           {"entity": rejection.entity})
    return count


# A dispute decision that closes the dispute (``desk.actions.resolve_dispute``): json.dumps writes ``"disputed": false``
# (the pattern's ``_`` stands for the colon, which the engines would read as a bind parameter; spaces removed first)
_CLOSES_DISPUTE = "replace(coalesce({d}.after_json, ''), ' ', '') LIKE '%\"disputed\"_false%'"


def _latest_dispute_sql(where: str) -> str:
    """SQL: every ``dispute`` decision of the invoices ``where`` selects, ranked newest first per invoice (``rn``)."""
    return ("SELECT entity, invoice_id, after_json, created_at, row_number() OVER (PARTITION BY entity, invoice_id "
            "ORDER BY created_at DESC, id DESC) AS rn FROM decision "
            f"WHERE kind = 'dispute' AND invoice_id IS NOT NULL AND {where}")


def open_disputes_sql(where: str = "TRUE") -> str:
    """SQL: ``(entity, invoice_id)`` of every invoice in dispute by a person's decision: its latest ``dispute``
    decision opens one (``after_json.disputed`` true). A dispute is closed by a later ``dispute`` decision saying
    ``"disputed": false`` (``desk.actions.resolve_dispute``), so the history keeps both and the latest wins.
    ``where`` filters the decisions read (``entity = :entity``). The one definition reminders, statements,
    factoring and ``fct_invoice`` (70_invoice) read."""
    return (f"SELECT entity, invoice_id FROM ({_latest_dispute_sql(where)}) AS latest "
            f"WHERE rn = 1 AND NOT {_CLOSES_DISPUTE.format(d='latest')}")


def open_dispute_sql(invoice: str) -> str:
    """SQL: the invoice ``invoice`` (an alias with ``entity`` and ``invoice_id``) is in dispute (:func:`open_disputes_sql`)."""
    return (f"EXISTS (SELECT 1 FROM ({open_disputes_sql()}) AS od "
            f"WHERE od.entity = {invoice}.entity AND od.invoice_id = {invoice}.invoice_id)")


def disputed_now_sql(engine: Engine, invoice: str, *, recorded_since: bool = True) -> str:
    """SQL: the ``fct_invoice`` row ``invoice`` (an alias) is in dispute now, for those who act on it between two
    reconciles (reminders, statements, factoring). The row says what the last reconcile saw (70_invoice: a person's
    open dispute, an open chargeback, the source's flag); a dispute a person recorded since counts at once
    (:func:`open_dispute_sql`; ``recorded_since`` false leaves it to the caller, which tells the two apart), and so
    does one a person closed since: the invoice's latest dispute decision, recorded after the row was written, saying
    ``"disputed": false``, when neither an open chargeback (fct_reconciliation_exception) nor the source's own flag
    (int_invoices) keeps it disputed. "The latest decision wins" held for a new dispute only: a closed one waited for
    the next reconcile, and its reminder for the next night. Without decisions, the row alone."""
    row = f"(coalesce({invoice}.disputed, FALSE) OR {invoice}.status = 'disputed')"
    if not engine.table_exists("decision"):
        return row
    closed = (f"EXISTS (SELECT 1 FROM ({_latest_dispute_sql(f'entity = {invoice}.entity AND invoice_id = {invoice}.invoice_id')}) "
              f"AS ld WHERE ld.rn = 1 AND ld.created_at > {invoice}._loaded_at AND {_CLOSES_DISPUTE.format(d='ld')})")
    if engine.table_exists("fct_reconciliation_exception"):
        closed += (" AND NOT EXISTS (SELECT 1 FROM fct_reconciliation_exception AS cbx WHERE cbx.entity = "
                   f"{invoice}.entity AND cbx.invoice_id = {invoice}.invoice_id AND cbx.kind = 'chargeback' "
                   "AND cbx.resolved_at IS NULL)")
    if engine.table_exists("int_invoices"):
        closed += (f" AND NOT EXISTS (SELECT 1 FROM int_invoices AS sfx WHERE sfx.entity = {invoice}.entity "
                   f"AND sfx.invoice_id = {invoice}.invoice_id AND coalesce(sfx.disputed, FALSE))")
    since = f" OR {open_dispute_sql(invoice)}" if recorded_since else ""
    return f"(({row} AND NOT ({closed})){since})"


def normalize_name(name: str | None, legal_forms: tuple[str, ...] = ()) -> str:
    """Upper case, no accents or punctuation, legal forms (SARL, GmbH...) removed."""
    folded = fold(name)
    # hot (every customer name on a first run, every payer): an ASCII name needs no regular expression,
    # a translation table gives the same words as splitting on runs of anything but [A-Z0-9]
    words = (folded.translate(_ASCII_SEPARATORS) if folded.isascii() else _NOT_ALNUM.sub(" ", folded)).split()
    if any(len(w) == 1 for w in words):
        words = _join_initials(words)
    forms = _forms(legal_forms) if isinstance(legal_forms, tuple) else frozenset(legal_forms)
    kept = [w for w in words if w not in forms]
    return " ".join(kept or words)


def _join_initials(words: list[str]) -> list[str]:
    """Runs of single letters made one word: ``S.A.R.L.`` and ``S A R L`` read ``SARL`` (then a legal
    form), ``J.P. MORGAN`` reads ``JP MORGAN``, as banks and ERPs write the same company both ways.
    (A name normalised before this rule, ``ACME S A R L``, normalises again to today's ``ACME``.)"""
    out: list[str] = []
    run = ""
    for w in words:
        if len(w) == 1 and w.isalpha():
            run += w
            continue
        if run:
            out.append(run)
            run = ""
        out.append(w)
    if run:
        out.append(run)
    return out


_NOT_ALNUM = re.compile(r"[^A-Z0-9]+")
_ASCII_SEPARATORS = {c: " " for c in range(128) if not re.fullmatch(r"[A-Z0-9]", chr(c))}


@lru_cache(maxsize=16)
def _forms(legal_forms: tuple[str, ...]) -> frozenset[str]:
    return frozenset(legal_forms)


def learn_aliases(engine: Engine, decision: Decision) -> int:
    """Record the payer's IBAN, name and parent relation for the invoice's customer."""
    from mappings.matching import load_matching_rules

    rows = engine.query_dicts(
        "SELECT p.payer_iban, p.payer_name, p.customer_id AS payer_customer, i.customer_id "
        "FROM fct_payment AS p, fct_invoice AS i "
        "WHERE p.entity = :entity AND p.payment_id = :payment_id AND i.entity = :entity AND i.invoice_id = :invoice_id",
        {"entity": decision.entity, "payment_id": decision.payment_id, "invoice_id": decision.invoice_id},
    )
    if not rows or not rows[0]["customer_id"]:
        return 0
    row = rows[0]
    customer = row["customer_id"]
    legal = load_matching_rules().fuzzy.legal_forms
    aliases: list[tuple[str, str]] = []
    iban = (row["payer_iban"] or "").replace(" ", "").upper()
    if iban:
        aliases.append(("iban", iban))
    name = normalize_name(row["payer_name"], legal)
    if name:
        aliases.append(("name", name))
    if row["payer_customer"] and row["payer_customer"] != customer:
        aliases.append(("parent", row["payer_customer"]))
    if iban:  # the IBAN may belong to another customer of ours: a parent paying for a subsidiary
        owners = engine.query(
            "SELECT DISTINCT customer_id FROM dim_customer WHERE entity = :entity "
            "AND upper(replace(iban, ' ', '')) = :iban AND customer_id <> :customer",
            {"entity": decision.entity, "iban": iban, "customer": customer},
        )
        aliases.extend(("parent", str(o[0])) for o in owners)
    count = 0
    for kind, value in dict.fromkeys(aliases):
        exists = engine.query(
            "SELECT 1 FROM payer_alias WHERE entity = :entity AND customer_id = :customer AND kind = :kind "
            "AND value = :value",
            {"entity": decision.entity, "customer": customer, "kind": kind, "value": value},
        )
        if exists:
            continue
        _insert(engine, "payer_alias", PayerAlias(
            entity=decision.entity, customer_id=customer, kind=kind, value=value, decision_id=decision.id,
            created_at=datetime.now(UTC),
        ))
        count += 1
    return count


def load_decisions(engine: Engine, entity: str | None) -> list[dict[str, Any]]:
    sql = "SELECT * FROM decision" + (" WHERE entity = :entity" if entity else "") + " ORDER BY created_at, id"
    return engine.query_dicts(sql, {"entity": entity} if entity else None)


def pending_write_off_sql(invoice_alias: str = "i") -> str:
    """SQL true when the invoice has a write-off request that no later ``write_off`` (approved) or
    ``write_off_declined`` decision settled.

    One definition for the flows that must hold off such an invoice (dunning selection, factoring
    candidates); callers include it only when the ``decision`` table exists.
    """
    a = invoice_alias
    return (f"EXISTS (SELECT 1 FROM decision AS wr WHERE wr.entity = {a}.entity AND wr.invoice_id = {a}.invoice_id "
            "AND wr.kind = 'write_off_request' AND NOT EXISTS (SELECT 1 FROM decision AS wo "
            "WHERE wo.entity = wr.entity AND wo.invoice_id = wr.invoice_id "
            "AND wo.kind IN ('write_off', 'write_off_declined') "
            "AND wo.created_at >= wr.created_at))")
