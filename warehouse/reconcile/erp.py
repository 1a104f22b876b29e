"""The ERP's side of the reconciliation: its receipts as bank movements, and the matches it lacks.

:data:`ERP_MOVEMENTS` is how the run reads the receipts the ERP booked (``int_erp_receipts``).

Matches the ERP lacks are exported as a lettrage proposal it can import back.

One CSV row per applied match (auto or confirmed) the ERP lacks: its invoice is not lettered in the ERP,
or is lettered with a credit note only (no receipt of the ERP settles it) and still open there (a Sage
invoice the ERP set a credit note against, whose balance a direct debit then paid). Rows tied together share a
proposed lettrage code (a payment, the invoices it pays, the credit notes set against them and the other payments
of those invoices: one ERP line carries one code), derived from the group's first payment id so that a re-export
proposes the same code. Each row carries what an
accountant (or an import script) needs to find both sides in the ERP: the invoice's own
document key (``invoice_source_id``: the FEC journal and entry, SAP's BELNR, the API's id)
and the money's date, channel and remittance as the bank or provider gave them.
"""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

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


def _node_of_payment(row: dict[str, Any]) -> str:
    # a credit note set against an invoice is a document of the ERP like the invoice: one node whether it is the
    # match's payment (rule credit_note) or its invoice (a payer deducting it)
    return ("i:" if row["rule"] == "credit_note" else "p:") + str(row["payment_id"])


def lettrage_groups(rows: list[dict[str, Any]], erp_codes: dict[str, str] | None = None) -> dict[str, str]:
    """One code per set of documents the rows tie together (a payment, the invoices it pays, the credit notes set
    against them, the other payments of those invoices): in the ERP one line carries one lettrage code, so an
    invoice paid by a transfer and a credit note, or by two transfers, is lettered with both under one code.
    The code is the group's first payment's (:func:`lettrage_code`), so a re-export proposes the same one, or the
    ERP's own code of an invoice in the group that the ERP already lettered in part (``erp_codes``, by node).
    Returns ``node -> code`` for every row's money side (``"p:<payment>"`` or ``"i:<credit note>"``)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for r in rows:
        a, b = find(_node_of_payment(r)), find("i:" + str(r["invoice_id"]))
        if a != b:
            parent[max(a, b)] = min(a, b)
    members: dict[str, list[str]] = {}
    for node in list(parent):
        members.setdefault(find(node), []).append(node)
    codes: dict[str, str] = {}
    for nodes in members.values():
        payments = sorted(n[2:] for n in nodes if n.startswith("p:"))
        kept = sorted(erp_codes[n] for n in nodes if erp_codes and n in erp_codes)
        code = kept[0] if kept else lettrage_code(payments[0] if payments else min(nodes)[2:])
        codes.update((n, code) for n in nodes)
    return codes


_MATCH_COLUMNS = (
    "m.entity, m.invoice_id, i.invoice_number, i.source_system AS invoice_source_system, "
    "i.source_id AS invoice_source_id, i.customer_id, m.payment_id, p.paid_on, p.channel AS payment_channel, "
    "p.reference AS payment_reference, m.amount_applied, m.adjustment, m.adjustment_reason, m.currency, m.rule, "
    "m.confidence, m.state, m.explanation")


def _partly_lettered(engine: Engine, entity: str) -> list[dict[str, Any]]:
    """The money Lettrage applied to invoices the ERP lettered in part only (a FEC's partial lettering: its
    code letters the invoice with receipts short of it; the ERP gives no open amount of its own), beyond what
    the ERP's receipts under that code already hold: Lettrage's payments of the invoice in date order, the
    first ones standing for the receipts the ERP lettered. Each row carries the invoice's ERP code (``erp_code``):
    the accountant adds the new receipt to the lettering the invoice's line already carries."""
    rows = engine.query_dicts(
        f"SELECT {_MATCH_COLUMNS}, i.erp_lettrage AS erp_code, coalesce(r.received, 0) AS erp_received "
        "FROM fct_match AS m JOIN fct_invoice AS i ON i.entity = m.entity AND i.invoice_id = m.invoice_id "
        "JOIN int_invoices AS ii ON ii.entity = m.entity AND ii.invoice_id = m.invoice_id "
        "LEFT JOIN fct_payment AS p ON p.entity = m.entity AND p.payment_id = m.payment_id "
        "LEFT JOIN (SELECT erp_lettrage, sum(amount) AS received FROM int_erp_receipts WHERE entity = :entity "
        "           GROUP BY erp_lettrage) AS r ON r.erp_lettrage = i.erp_lettrage "
        "WHERE m.entity = :entity AND m.state IN ('auto', 'confirmed') "
        "AND m.rule NOT IN ('credit_note', 'erp_lettrage', 'erp_receipt') AND m.amount_applied > 0 "
        "AND coalesce(i.erp_lettrage, '') <> '' AND ii.erp_amount_open IS NULL AND i.doc_type = 'invoice' "
        "AND coalesce(r.received, 0) < i.amount_total "
        "AND NOT EXISTS (SELECT 1 FROM int_erp_settlements AS s WHERE s.entity = m.entity AND s.invoice_id = m.invoice_id) "
        "ORDER BY m.invoice_id, p.paid_on, m.payment_id",
        {"entity": entity},
    )
    out: list[dict[str, Any]] = []
    held: dict[str, Decimal] = {}
    for r in rows:
        invoice = str(r["invoice_id"])
        held[invoice] = held.get(invoice, Decimal(0)) + Decimal(str(r["amount_applied"]))
        if held[invoice] > Decimal(str(r["erp_received"])):
            out.append(r)
    return out


def export_lettrage_proposal(engine: Engine, entity: str, path: Path | str) -> int:
    """Write the proposal CSV for ``entity``; returns the number of rows written."""
    rows = engine.query_dicts(
        f"SELECT {_MATCH_COLUMNS} "
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
    rows += _partly_lettered(engine, entity)
    rows.sort(key=lambda r: (str(r["payment_id"]), str(r["invoice_id"])))
    codes = lettrage_groups(rows, {"i:" + str(r["invoice_id"]): str(r["erp_code"]) for r in rows if r.get("erp_code")})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, delimiter=";")
        writer.writeheader()
        for r in rows:
            writer.writerow({**{c: r.get(c) for c in COLUMNS}, "lettrage_code": codes[_node_of_payment(r)]})
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
