"""Following the money: the factor's advances, fees and reserve releases, and payments that went astray.

- Every bank line from (or to) the factor (its IBAN or name, ``mappings/factoring.yaml``) is tied
  to the batch whose id its remittance names, or whose invoices it names, and classified:
  ``advance`` or ``reserve_release`` by the contract's keywords (an unlabelled credit equal to a
  batch's net advance is that advance); a debit naming an assigned invoice is our ``transfer``
  on to the factor of a payment of it we received; a debit with the contract's fee words is the
  factor's ``fee`` (commission, interest); any other debit is ``debit``, any other credit
  ``unallocated``.
- The assigned invoices a line names are kept in ``factoring_settlement_item``: a reserve released
  for an invoice says the factor collected it, so it no longer counts in what the factor carries
  (concentration, ``open_factored``).
- ``fct_factoring_assignment.status`` follows: assigned → financed → collected (its reserve
  released) → settled (the batch's whole reserve released).
- A customer payment applied to an invoice after it was assigned is the factor's money: one
  ``paid_to_us_factored`` exception per payment and invoice, to transfer, opened the day the money
  reached us; our transfers naming the invoice (or, naming none, of exactly its amount) close it on the
  transfer's booking date. Until then the factor still carries the invoice (``open_factored``).

Everything here is derived from the warehouse and recomputed on each run
(exception ids are deterministic and keep their first ``opened_at``).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import jinja2

from actions.factoring.schema import (
    FactoringException,
    FactoringSettlement,
    FactoringSettlementItem,
    ensure_factoring_tables,
    insert_rows,
)
from actions.factoring.selection import read_sql
from mappings.factoring import FactorContract
from warehouse.engine import Engine

log = logging.getLogger("lettrage.factoring")
PAID_TO_US = "paid_to_us_factored"


@dataclass(frozen=True, slots=True)
class BatchRef:
    batch_id: str
    net_advance: Decimal
    reserve_amount: Decimal


@dataclass(frozen=True, slots=True)
class ItemRef:
    """One assigned invoice, as the bordereau numbered it."""

    invoice_id: str
    invoice_number: str
    batch_id: str
    reserve_amount: Decimal


@dataclass(frozen=True, slots=True)
class LineClass:
    kind: str
    batch: BatchRef | None
    items: tuple[ItemRef, ...] = field(default=())


_TOKEN_SPLIT = re.compile(r"[\s,;:+()]+")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


def _words(text: str) -> set[str]:
    return {w for w in re.split(r"[^A-Z0-9ÀÂÄÉÈÊËÎÏÔÖÙÛÜÇ]+", text) if w}


def _tokens(text: str) -> set[str]:
    """The remittance's tokens with separators taken out (a bank may write FA-2026-0012 as FA20260012)."""
    return {t for t in (_NOT_ALNUM.sub("", tok) for tok in _TOKEN_SPLIT.split(text)) if t}


def named_items(text: str, items: Iterable[ItemRef]) -> tuple[ItemRef, ...]:
    """The assigned invoices whose number the remittance names, as a whole token (case and separators aside)."""
    tokens = _tokens(text)
    return tuple(i for i in items if (key := _NOT_ALNUM.sub("", i.invoice_number.upper())) and key in tokens)


def classify_line(remittance: str, amount: Decimal, batches: Sequence[BatchRef], contract: FactorContract,
                  items: Sequence[ItemRef] = ()) -> LineClass:
    """Kind, batch and named invoices of one factor bank line; pure so the rules are tested on their own."""
    text = remittance.upper()
    batch = next((b for b in batches if b.batch_id.upper() in text), None)
    named = named_items(text, items)
    if batch is None and named and len({i.batch_id for i in named}) == 1:
        batch = next((b for b in batches if b.batch_id == named[0].batch_id), None)
    cp = contract.counterparty
    if amount < 0:
        if named:
            return LineClass("transfer", batch, named)
        words = _words(text)
        if any(k.upper() in words for k in cp.fee_keywords):
            return LineClass("fee", batch)
        return LineClass("debit", batch)
    if any(k.upper() in text for k in cp.reserve_keywords):
        return LineClass("reserve_release", batch, named) if batch else LineClass("unallocated", None, named)
    if any(k.upper() in text for k in cp.advance_keywords):
        return LineClass("advance", batch) if batch else LineClass("unallocated", None)
    if batch is None:
        same = [b for b in batches if b.net_advance == amount]
        if len(same) == 1:
            return LineClass("advance", same[0])
        return LineClass("unallocated", None)
    return LineClass("advance", batch) if amount == batch.net_advance else LineClass("unallocated", batch)


@dataclass(slots=True)
class ToTransfer:
    """One payment of an assigned invoice we received, and what we have sent on to the factor of it."""

    payment: dict[str, Any]
    amount: Decimal
    sent: Decimal = Decimal("0")
    sent_on: date | None = None
    lines: list[str] = field(default_factory=list)

    @property
    def left(self) -> Decimal:
        return self.amount - self.sent


def allocate_transfers(owed: Sequence[ToTransfer], transfers: Sequence[tuple[str, date | None, Decimal,
                                                                              tuple[str, ...]]]) -> list[str]:
    """Set what each of our transfers to the factor covers, in booking order; pure.

    ``transfers``: (bank line, booking date, amount sent (positive), invoice ids named). A transfer
    covers the payments of the invoices it names, oldest first; one that names none covers the one
    payment left whose amount it is exactly. Returns the lines that covered nothing.
    """
    unmatched: list[str] = []
    for line_id, booked, sent, invoice_ids in transfers:
        targets = [o for o in owed if o.payment["invoice_id"] in invoice_ids and o.left > 0]
        if not invoice_ids:
            exact = [o for o in owed if o.left > 0 and o.left == sent]
            targets = exact if len(exact) == 1 else []
        if not targets:
            unmatched.append(line_id)
            continue
        rest = sent
        for o in targets:
            part = min(rest, o.left)
            if part <= 0:
                break
            o.sent += part
            o.sent_on = booked
            o.lines.append(line_id)
            rest -= part
    return unmatched


def _filters(contract: FactorContract) -> tuple[str, str, dict[str, Any]]:
    params: dict[str, Any] = {}
    ibans = [i.replace(" ", "").upper() for i in contract.counterparty.ibans]
    names = [n.upper() for n in contract.counterparty.names]
    for n, v in enumerate(ibans):
        params[f"iban_{n}"] = v
    for n, v in enumerate(names):
        params[f"name_{n}"] = v
    iban_filter = ("upper(replace(coalesce(counterparty_iban, ''), ' ', '')) IN ("
                   + ", ".join(f":iban_{n}" for n in range(len(ibans))) + ")") if ibans else "1 = 0"
    name_filter = ("upper(trim(coalesce(counterparty_name, ''))) IN ("
                   + ", ".join(f":name_{n}" for n in range(len(names))) + ")") if names else "1 = 0"
    return iban_filter, name_filter, params


def _exception_id(entity: str, kind: str, payment_id: str, invoice_id: str) -> str:
    return hashlib.md5(f"{entity}|{kind}|{payment_id}|{invoice_id}".encode()).hexdigest()


def _items(engine: Engine, contract: FactorContract, entity: str) -> list[ItemRef]:
    return [ItemRef(str(i), str(n), str(b), Decimal(str(r))) for i, n, b, r in engine.query(
        "SELECT it.invoice_id, it.invoice_number, it.batch_id, it.reserve_amount FROM factoring_batch_item AS it "
        "JOIN factoring_batch AS b ON b.batch_id = it.batch_id "
        "WHERE b.contract_id = :c AND it.entity = :e AND b.state = 'confirmed' ORDER BY it.batch_id, it.line_no",
        {"c": contract.contract_id, "e": entity})]


def _day(value: date | datetime | None) -> datetime | None:
    """A date as the start of that day in UTC: an item opened the day the money reached us, closed the day we
    sent it on (the bank's dates, not the run's)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time(), UTC)


def _transfer_detail(o: ToTransfer) -> str:
    p = o.payment
    head = (f"payment {p['payment_id']} of {p['paid_on']} ({p['channel'] or 'unknown channel'}) settled "
            f"invoice {p['invoice_id']} assigned to {p['factor']} in batch {p['batch_id']}: ")
    if o.sent <= 0:
        return head + f"transfer {o.amount} {p['currency']} to the factor"
    lines = ", ".join(o.lines)
    if o.left <= 0:
        return head + f"{o.amount} {p['currency']} transferred to the factor on {o.sent_on} (bank line {lines})"
    return (head + f"{o.sent} {p['currency']} of {o.amount} transferred on {o.sent_on} (bank line {lines}), "
            f"transfer the other {o.left}")


def reconcile_settlements(engine: Engine, contract: FactorContract, entity: str,
                          *, now: datetime | None = None) -> dict[str, Any]:
    """Rebuild ``factoring_settlement`` (and its items), assignment statuses and ``factoring_exception``."""
    ensure_factoring_tables(engine)
    stamp = now or datetime.now(UTC)
    batches = [BatchRef(str(b), Decimal(str(n)), Decimal(str(r))) for b, n, r in engine.query(
        "SELECT batch_id, net_advance, reserve_amount FROM factoring_batch "
        "WHERE contract_id = :c AND entity = :e AND state = 'confirmed' ORDER BY batch_id",
        {"c": contract.contract_id, "e": entity})]
    items = _items(engine, contract, entity)
    iban_filter, name_filter, params = _filters(contract)
    query = jinja2.Template(read_sql("factor_lines.sql")).render(iban_filter=iban_filter, name_filter=name_filter)
    lines = engine.query_dicts(query, {"entity": entity, **params})
    settlements: list[FactoringSettlement] = []
    named: list[FactoringSettlementItem] = []
    transfers: list[tuple[str, date | None, Decimal, tuple[str, ...]]] = []
    for line in lines:
        amount = Decimal(str(line["amount"]))
        got = classify_line(line["remittance"] or "", amount, batches, contract, items)
        batch = got.batch
        expected: Decimal | None = None
        if batch and got.kind == "advance":
            expected = batch.net_advance
        elif got.kind == "reserve_release" and got.items:
            expected = sum((i.reserve_amount for i in got.items), Decimal("0"))
        settlements.append(FactoringSettlement(
            entity=entity, bank_line_id=line["bank_line_id"], factor=contract.factor,
            contract_id=contract.contract_id, batch_id=batch.batch_id if batch else None, kind=got.kind,
            booking_date=line["booking_date"], amount=amount, currency=line["currency"], expected_amount=expected,
            difference=(amount - expected) if expected is not None else None, remittance=line["remittance"],
        ))
        named.extend(FactoringSettlementItem(entity=entity, bank_line_id=line["bank_line_id"],
                                             invoice_id=i.invoice_id, batch_id=i.batch_id, kind=got.kind)
                     for i in got.items)
        if got.kind in ("transfer", "debit"):
            transfers.append((str(line["bank_line_id"]), line["booking_date"], -amount,
                              tuple(i.invoice_id for i in got.items)))
    owed = [ToTransfer(p, Decimal(str(p["amount"])))
            for p in engine.query_dicts(read_sql("paid_to_us.sql"), {"entity": entity})]
    unmatched = set(allocate_transfers(owed, transfers))
    for st in settlements:
        if st.kind == "debit" and st.bank_line_id not in unmatched:
            st.kind = "transfer"  # of exactly the amount of one payment to send on
    opened = {str(i): o for i, o in engine.query(
        "SELECT exception_id, opened_at FROM factoring_exception WHERE entity = :e AND kind = :k",
        {"e": entity, "k": PAID_TO_US})}
    exceptions: list[FactoringException] = []
    for o in owed:
        p = o.payment
        eid = _exception_id(entity, PAID_TO_US, p["payment_id"], p["invoice_id"])
        done = o.left <= 0
        opened_at = opened.get(eid, _day(p["paid_on"]) or stamp)
        exceptions.append(FactoringException(
            entity=entity, exception_id=eid, kind=PAID_TO_US, batch_id=p["batch_id"], invoice_id=p["invoice_id"],
            payment_id=p["payment_id"], amount=o.amount if done else o.left, currency=p["currency"],
            bank_line_id=o.lines[-1] if o.lines else None, detail=_transfer_detail(o),
            opened_at=opened_at, resolved_at=max(_day(o.sent_on) or stamp, opened_at) if done else None,
        ))
    current = {e.exception_id for e in exceptions}
    with engine.transaction():
        engine.execute("DELETE FROM factoring_settlement WHERE entity = :e AND contract_id = :c",
                       {"e": entity, "c": contract.contract_id})
        engine.execute("DELETE FROM factoring_settlement_item WHERE entity = :e AND batch_id IN "
                       "(SELECT batch_id FROM factoring_batch WHERE contract_id = :c)",
                       {"e": entity, "c": contract.contract_id})
        insert_rows(engine, list(settlements))
        insert_rows(engine, list(named))
        engine.execute(read_sql("assignment_status.sql"), {"entity": entity, "contract_id": contract.contract_id})
        if current:
            marks = ", ".join(f":x{n}" for n in range(len(current)))
            engine.execute(f"DELETE FROM factoring_exception WHERE entity = :e AND exception_id IN ({marks})",
                           {"e": entity, **{f"x{n}": x for n, x in enumerate(sorted(current))}})
        engine.execute("UPDATE factoring_exception SET resolved_at = :now "
                       "WHERE entity = :e AND kind = :k AND resolved_at IS NULL", {"now": stamp, "e": entity,
                                                                                     "k": PAID_TO_US})
        insert_rows(engine, list(exceptions))
    kinds: dict[str, int] = {}
    for st in settlements:
        kinds[st.kind] = kinds.get(st.kind, 0) + 1
    left = sum(1 for o in owed if o.left > 0)
    log.info("%s/%s: %d factor bank lines %s, %d payments to transfer, %d transferred", entity,
             contract.contract_id, len(settlements), kinds, left, len(owed) - left)
    return {"settlement_lines": kinds, PAID_TO_US: left, "transferred": len(owed) - left,
            "collected": len({i.invoice_id for i in named if i.kind == "reserve_release"})}


def open_transfers(engine: Engine, entity: str | None = None) -> list[dict[str, Any]]:
    """Open ``paid_to_us_factored`` items, for the desk and the CLI."""
    where = " AND entity = :e" if entity else ""
    return engine.query_dicts(
        f"SELECT * FROM factoring_exception WHERE kind = :k AND resolved_at IS NULL{where} ORDER BY exception_id",
        {"k": PAID_TO_US, **({"e": entity} if entity else {})})
