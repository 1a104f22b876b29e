"""The answers: every document's open amount and status, every allocation, every payout's bank line.

``amount_total - sum(payment allocations) - sum(credit-note allocations) - sum(write-offs) == amount_open``
holds for every invoice; a credit note's own allocations bring its (negative)
total back to zero. Credit-note allocations carry ``payment_source`` ``erp`` and
the credit note's number as ``payment_ref``. A short payment whose difference the
entity's policy closes (rounding, bank charges, early-payment discount; see
``settle.WRITE_OFF_POLICY``) adds a ``write_off`` allocation (``payment_source``
``erp``, ``payment_ref`` the short payment's) so the invoice is paid, not open.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from sandbox.world.model import Document, EntityWorld
from sandbox.world.writers.formats import cents_plain

INVOICE_COLUMNS = ("entity", "invoice_number", "customer_id", "doc_type", "issue_date", "due_date", "currency",
                   "amount_total", "amount_open", "status", "disputed")
ALLOCATION_COLUMNS = ("entity", "payment_source", "payment_ref", "invoice_number", "amount_applied", "currency",
                      "kind")
PAYOUT_COLUMNS = ("entity", "source", "payout_id", "amount", "bank_line_ref")
CUSTOMER_COLUMNS = ("entity", "customer_id", "name", "behaviour", "channel", "terms_days", "payer_name",
                    "payer_iban", "stripe_customer_id", "gocardless_customer_id", "gocardless_mandate_id")


def open_cents(doc: Document) -> int:
    """What is still owed on ``doc`` (for a credit note: what is still unused, negative)."""
    applied = sum(a.amount_cents for a in doc.allocations)
    if doc.doc_type == "credit_note":
        return doc.total_cents + applied_from(doc)
    return doc.total_cents - applied


def applied_from(cn: Document) -> int:
    """A credit note is always applied in full to the invoice it credits."""
    return -cn.total_cents


def status(doc: Document, as_of: date) -> str:
    """Contract status of a document as of ``as_of``."""
    if doc.doc_type == "credit_note":
        return "credited"
    remaining = open_cents(doc)
    credited = sum(a.amount_cents for a in doc.allocations if a.kind == "credit_note")
    paid = sum(a.amount_cents for a in doc.allocations if a.kind != "credit_note")
    if remaining <= 0:
        return "credited" if paid == 0 and credited > 0 else "paid"
    if doc.disputed:
        return "disputed"
    if paid > 0:
        return "partially_paid"
    return "overdue" if doc.due_date < as_of else "open"


def write_ground_truth(folder: Path, worlds: list[EntityWorld], as_of: date) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "invoices.csv", folder / "allocations.csv", folder / "payouts.csv", folder / "customers.csv"]
    with (paths[0].open("w", encoding="utf-8", newline="") as inv_fh,
          paths[1].open("w", encoding="utf-8", newline="") as al_fh,
          paths[2].open("w", encoding="utf-8", newline="") as po_fh,
          paths[3].open("w", encoding="utf-8", newline="") as cu_fh):
        inv_w, al_w, po_w, cu_w = (csv.writer(f, lineterminator="\n") for f in (inv_fh, al_fh, po_fh, cu_fh))
        inv_w.writerow(INVOICE_COLUMNS)
        al_w.writerow(ALLOCATION_COLUMNS)
        po_w.writerow(PAYOUT_COLUMNS)
        cu_w.writerow(CUSTOMER_COLUMNS)
        for w in worlds:
            code, ccy = w.entity.code, w.entity.currency
            for d in w.documents:
                inv_w.writerow([code, d.number, d.customer.customer_id, d.doc_type, d.issue_date.isoformat(),
                                d.due_date.isoformat(), ccy, cents_plain(d.total_cents), cents_plain(open_cents(d)),
                                status(d, as_of), "true" if d.disputed else "false"])
                for a in d.allocations:
                    ref = a.payment.number if a.kind == "credit_note" else a.payment.ref
                    al_w.writerow([code, a.source, ref, d.number, cents_plain(a.amount_cents), ccy, a.kind])
            for po in w.payouts:
                po_w.writerow([code, po.source, po.payout_id, cents_plain(po.amount_cents),
                               po.bank_tx.ref if po.bank_tx is not None else ""])
            for c in w.customers:
                cu_w.writerow([code, c.customer_id, c.name, c.behaviour, c.channel, c.terms_days, c.payer_name,
                               c.payer_iban, c.stripe_customer_id or "", c.gc_customer_id or "",
                               c.gc_mandate_id or ""])
    return paths
