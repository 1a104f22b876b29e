"""Following the money: the factor's advances and reserve releases, and payments that went astray.

- Every bank line from the factor (its IBAN or name, ``mappings/factoring.yaml``) is tied
  to the batch whose id its remittance names and classified as ``advance`` or
  ``reserve_release`` by the contract's keywords (an unlabelled credit equal to a
  batch's net advance is that advance). Lines naming no batch stay ``unallocated``.
- ``fct_factoring_assignment.status`` follows: assigned → financed → settled.
- A customer payment applied to an invoice after it was assigned is the factor's
  money: one ``paid_to_us_factored`` exception per payment and invoice, to transfer.

Everything here is derived from the warehouse and recomputed on each run
(exception ids are deterministic and keep their first ``opened_at``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import jinja2

from actions.factoring.schema import (
    FactoringException,
    FactoringSettlement,
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


def classify_line(remittance: str, amount: Decimal, batches: Sequence[BatchRef],
                  contract: FactorContract) -> tuple[str, BatchRef | None]:
    """(kind, batch) of one factor bank line; pure so the rules are tested on their own."""
    text = remittance.upper()
    batch = next((b for b in batches if b.batch_id.upper() in text), None)
    cp = contract.counterparty
    if amount < 0:
        return "debit", batch
    if any(k.upper() in text for k in cp.reserve_keywords):
        return ("reserve_release", batch) if batch else ("unallocated", None)
    if any(k.upper() in text for k in cp.advance_keywords):
        return ("advance", batch) if batch else ("unallocated", None)
    if batch is None:
        same = [b for b in batches if b.net_advance == amount]
        if len(same) == 1:
            return "advance", same[0]
        return "unallocated", None
    return ("advance", batch) if amount == batch.net_advance else ("unallocated", batch)


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


def reconcile_settlements(engine: Engine, contract: FactorContract, entity: str,
                          *, now: datetime | None = None) -> dict[str, Any]:
    """Rebuild ``factoring_settlement``, assignment statuses and ``factoring_exception`` for one entity."""
    ensure_factoring_tables(engine)
    stamp = now or datetime.now(UTC)
    batches = [BatchRef(str(b), Decimal(str(n)), Decimal(str(r))) for b, n, r in engine.query(
        "SELECT batch_id, net_advance, reserve_amount FROM factoring_batch "
        "WHERE contract_id = :c AND entity = :e AND state = 'confirmed' ORDER BY batch_id",
        {"c": contract.contract_id, "e": entity})]
    iban_filter, name_filter, params = _filters(contract)
    query = jinja2.Template(read_sql("factor_lines.sql")).render(iban_filter=iban_filter, name_filter=name_filter)
    lines = engine.query_dicts(query, {"entity": entity, **params})
    settlements: list[FactoringSettlement] = []
    for line in lines:
        amount = Decimal(str(line["amount"]))
        kind, batch = classify_line(line["remittance"] or "", amount, batches, contract)
        expected = batch.net_advance if (batch and kind == "advance") else None
        settlements.append(FactoringSettlement(
            entity=entity, bank_line_id=line["bank_line_id"], factor=contract.factor,
            contract_id=contract.contract_id, batch_id=batch.batch_id if batch else None, kind=kind,
            booking_date=line["booking_date"], amount=amount, currency=line["currency"], expected_amount=expected,
            difference=(amount - expected) if expected is not None else None, remittance=line["remittance"],
        ))
    payments = engine.query_dicts(read_sql("paid_to_us.sql"), {"entity": entity})
    opened = {str(i): o for i, o in engine.query(
        "SELECT exception_id, opened_at FROM factoring_exception WHERE entity = :e AND kind = :k",
        {"e": entity, "k": PAID_TO_US})}
    exceptions: list[FactoringException] = []
    for p in payments:
        eid = _exception_id(entity, PAID_TO_US, p["payment_id"], p["invoice_id"])
        exceptions.append(FactoringException(
            entity=entity, exception_id=eid, kind=PAID_TO_US, batch_id=p["batch_id"], invoice_id=p["invoice_id"],
            payment_id=p["payment_id"], amount=Decimal(str(p["amount"])), currency=p["currency"],
            detail=(f"payment {p['payment_id']} of {p['paid_on']} ({p['channel'] or 'unknown channel'}) settled "
                    f"invoice {p['invoice_id']} assigned to {p['factor']} in batch {p['batch_id']}: "
                    f"transfer {p['amount']} {p['currency']} to the factor"),
            opened_at=opened.get(eid, stamp), resolved_at=None,
        ))
    current = {e.exception_id for e in exceptions}
    with engine.transaction():
        engine.execute("DELETE FROM factoring_settlement WHERE entity = :e AND contract_id = :c",
                       {"e": entity, "c": contract.contract_id})
        insert_rows(engine, list(settlements))
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
    for s in settlements:
        kinds[s.kind] = kinds.get(s.kind, 0) + 1
    log.info("%s/%s: %d factor bank lines %s, %d payments to transfer", entity, contract.contract_id,
             len(settlements), kinds, len(exceptions))
    return {"settlement_lines": kinds, PAID_TO_US: len(exceptions)}


def open_transfers(engine: Engine, entity: str | None = None) -> list[dict[str, Any]]:
    """Open ``paid_to_us_factored`` items, for the desk and the CLI."""
    where = " AND entity = :e" if entity else ""
    return engine.query_dicts(
        f"SELECT * FROM factoring_exception WHERE kind = :k AND resolved_at IS NULL{where} ORDER BY exception_id",
        {"k": PAID_TO_US, **({"e": entity} if entity else {})})
