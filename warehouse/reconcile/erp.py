"""Matches the ERP lacks, exported as a lettrage proposal it can import back.

One CSV row per applied match (auto or confirmed) whose invoice the ERP has not
lettered yet. Rows of one payment share a proposed lettrage code, derived from
the payment id so that a re-export proposes the same code.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from warehouse.engine import Engine

COLUMNS = ("entity", "lettrage_code", "invoice_id", "invoice_number", "customer_id", "payment_id", "amount_applied",
           "adjustment", "adjustment_reason", "currency", "rule", "confidence", "state", "explanation")


def lettrage_code(payment_id: str) -> str:
    """A short, stable code (FEC EcritureLet style) for one payment's lettrage group."""
    digest = int(hashlib.md5(payment_id.encode()).hexdigest()[:8], 16)
    letters = ""
    for _ in range(5):
        digest, r = divmod(digest, 26)
        letters += chr(ord("A") + r)
    return "L" + letters


def export_lettrage_proposal(engine: Engine, entity: str, path: Path | str) -> int:
    """Write the proposal CSV for ``entity``; returns the number of rows written."""
    rows = engine.query_dicts(
        "SELECT m.entity, m.invoice_id, i.invoice_number, i.customer_id, m.payment_id, m.amount_applied, "
        "m.adjustment, m.adjustment_reason, m.currency, m.rule, m.confidence, m.state, m.explanation "
        "FROM fct_match AS m JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
        "WHERE m.entity = :entity AND m.state IN ('auto', 'confirmed') "
        "AND (i.erp_lettrage IS NULL OR i.erp_lettrage = '') "
        "ORDER BY m.payment_id, m.invoice_id",
        {"entity": entity},
    )
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, delimiter=";")
        writer.writeheader()
        for r in rows:
            writer.writerow({**{c: r.get(c) for c in COLUMNS}, "lettrage_code": lettrage_code(str(r["payment_id"]))})
    return len(rows)
