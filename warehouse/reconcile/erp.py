"""The ERP's side of the reconciliation: its receipts as bank movements, and the matches it lacks.

:data:`ERP_MOVEMENTS` is how the run reads the receipts the ERP booked (``int_erp_receipts``).

Matches the ERP lacks are exported as a lettrage proposal it can import back.

One CSV row per applied match (auto or confirmed) the ERP lacks: its invoice is not lettered in the ERP,
or is lettered with a credit note only (no receipt of the ERP settles it) and still open there (a Sage
invoice the ERP set a credit note against, whose balance a direct debit then paid). Rows of one payment share a proposed lettrage code, derived from
the payment id so that a re-export proposes the same code. Each row carries what an
accountant (or an import script) needs to find both sides in the ERP: the invoice's own
document key (``invoice_source_id``: the FEC journal and entry, SAP's BELNR, the API's id)
and the money's date, channel and remittance as the bank or provider gave them.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

from warehouse.engine import Engine

# One row per bank movement the ERP booked (a FEC entry's customer lines, an SAP payment document): its
# amount on the bank (the bank line the entry books, else its customer lines summed), the customer
# lines' total and its booking date. ``lines - bank`` is what the entry books beside the bank and the
# customers: a card commission, a discount the payer took, charges. One definition for the residue's
# ERP receipt rule and for 40_adjust's discount or charges booked with the receipt.
ERP_MOVEMENTS = (
    "SELECT movement_id, upper(currency) AS currency, coalesce(max(movement_amount), sum(amount)) AS bank, "
    "sum(amount) AS lines, max(paid_on) AS booked_on "
    "FROM int_erp_receipts WHERE entity = :entity GROUP BY movement_id, upper(currency)")

COLUMNS = ("entity", "lettrage_code", "invoice_id", "invoice_number", "invoice_source_system", "invoice_source_id",
           "customer_id", "payment_id", "paid_on", "payment_channel", "payment_reference", "amount_applied",
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
        "SELECT m.entity, m.invoice_id, i.invoice_number, i.source_system AS invoice_source_system, "
        "i.source_id AS invoice_source_id, i.customer_id, m.payment_id, p.paid_on, p.channel AS payment_channel, "
        "p.reference AS payment_reference, m.amount_applied, m.adjustment, m.adjustment_reason, m.currency, m.rule, "
        "m.confidence, m.state, m.explanation "
        "FROM fct_match AS m JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
        "LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id "
        "LEFT JOIN int_invoices AS ii ON ii.entity = m.entity AND ii.invoice_id = m.invoice_id "
        "WHERE m.entity = :entity AND m.state IN ('auto', 'confirmed') "
        "AND (coalesce(i.erp_lettrage, '') = '' "
        # (lettered with a credit note only, still open in the ERP: the money Lettrage applied is not there yet)
        "     OR (m.rule <> 'credit_note' AND ii.erp_amount_open > 0 AND NOT EXISTS ("
        "         SELECT 1 FROM int_erp_settlements AS s WHERE s.entity = m.entity AND s.invoice_id = m.invoice_id))) "
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


def export_lettrage_proposals(engine: Engine, out_dir: Path | str, as_of: date,
                              entities: list[str] | None = None) -> dict[str, tuple[Path, int]]:
    """One proposal file per entity (``lettrage-proposal-<entity>-<as_of>.csv`` in ``out_dir``), also when
    empty, so the ERP side sees that the day was looked at. Returns ``entity -> (path, rows)``."""
    wanted = entities or sorted(str(r[0]) for r in engine.query(
        "SELECT DISTINCT entity FROM fct_invoice WHERE entity IS NOT NULL"))
    out: dict[str, tuple[Path, int]] = {}
    for entity in wanted:
        path = Path(out_dir) / f"lettrage-proposal-{entity}-{as_of.isoformat()}.csv"
        out[entity] = (path, export_lettrage_proposal(engine, entity, path))
    return out
