"""Promises to pay, recorded as decisions: the explicit writing side of what :mod:`select` reads.

The ``decision`` table (``warehouse.reconcile.decisions``) has no date column, so
the promised day travels in ``after_json.promised_on`` (ISO date). Writing it
through one function keeps the reading side (:func:`actions.dunning.select.promises`)
and the writing side agreeing on that shape; a promise with no date is never
written here (the reader's default of ``promise_default_days`` is for decisions
recorded by other tools).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from lettrage.errors import DataError
from warehouse.engine import Engine
from warehouse.reconcile import record_decision
from warehouse.reconcile.decisions import Decision


def record_promise_to_pay(engine: Engine, entity: str, invoice_id: str, promised_on: date, actor: str,
                          reason: str | None = None, *, today: date | None = None) -> Decision:
    """Append a ``promise_to_pay`` decision: reminders for the invoice stop until ``promised_on`` (inclusive).

    Raises :class:`DataError` for an unknown or closed invoice, or a day already past
    (``today`` defaults to the current day), so a typo never silences reminders.
    """
    if not isinstance(promised_on, date):
        raise DataError(f"promised_on must be a date, got {type(promised_on).__name__}")
    today = today or date.today()
    if promised_on < today:
        raise DataError(f"promise to pay for {entity}/{invoice_id} dated {promised_on}, before today ({today}): "
                        "record the new date the customer gave")
    before: dict[str, object] | None = None
    amount: Decimal | None = None
    if engine.table_exists("fct_invoice"):
        rows = engine.query_dicts(
            "SELECT invoice_number, customer_id, status, amount_open, currency FROM fct_invoice "
            "WHERE entity = :entity AND invoice_id = :invoice_id AND doc_type = 'invoice'",
            {"entity": entity, "invoice_id": invoice_id})
        if not rows:
            raise DataError(f"no invoice {invoice_id!r} of {entity} in fct_invoice: check the invoice id "
                            "(not the printed number) and the entity")
        row = rows[0]
        if row["status"] in ("paid", "credited", "written_off") or Decimal(row["amount_open"] or 0) <= 0:
            raise DataError(f"invoice {invoice_id} of {entity} is {row['status']} with nothing open: "
                            "no promise to record")
        amount = Decimal(row["amount_open"])
        before = {k: row[k] for k in ("invoice_number", "customer_id", "status", "amount_open", "currency")}
    return record_decision(engine, entity=entity, kind="promise_to_pay", actor=actor, reason=reason,
                           invoice_id=invoice_id, amount=amount, before=before,
                           after={"promised_on": promised_on.isoformat()})
