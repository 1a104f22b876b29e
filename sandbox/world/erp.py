"""What the ERP itself booked and matched: customer receipts, lettering (FEC) and clearing (SAP).

The ERP's own matching is deliberately incomplete (about 60% of the simple
invoice/receipt pairs): finding the rest is Lettrage's job.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date

from sandbox.world.model import BankTx, Document, Entity, ErpReceipt

LETTER_RATE = 0.6
SUSPENSE_RATE = 0.4


def letters() -> Iterator[str]:
    """AA, AB, … ZZ, AAA, AAB, … — Sage lettering codes."""
    width = 2
    while True:
        for n in range(26**width):
            code = ""
            for _ in range(width):
                n, r = divmod(n, 26)
                code = chr(65 + r) + code
            yield code
        width += 1


def make_receipts(entity: Entity, txs: list[BankTx], rng: random.Random) -> list[ErpReceipt]:
    """One receipt per customer transfer; some anonymous ones parked on the suspense account."""
    out = []
    for tx in sorted((t for t in txs if t.kind == "customer"), key=lambda t: (t.booking_date, t.ref)):
        assert tx.customer is not None
        suspense = tx.style == "missing" and rng.random() < SUSPENSE_RATE
        out.append(ErpReceipt(tx=tx, customer=tx.customer, documents=list(tx.documents), amount_cents=tx.amount_cents,
                              booking_date=tx.booking_date, suspense=suspense))
    return out


def match_in_erp(documents: list[Document], receipts: list[ErpReceipt], rng: random.Random) -> None:
    """Letter/clear fully credited invoices always, and ~60% of exactly settled invoice+receipt groups."""
    codes = letters()
    events: list[tuple[date, int, object]] = []
    for i, inv in enumerate(documents):
        if inv.doc_type == "invoice" and inv.credit_notes and sum(cn.total_cents for cn in inv.credit_notes) == -inv.total_cents:
            events.append((max(cn.issue_date for cn in inv.credit_notes), i, inv))
    for j, rc in enumerate(receipts):
        events.append((rc.booking_date, len(documents) + j, rc))
    events.sort(key=lambda e: (e[0], e[1]))
    for day, _k, item in events:
        if isinstance(item, Document):
            code = next(codes)
            clearing = max(item.credit_notes, key=lambda cn: cn.issue_date)
            for doc in [item, *item.credit_notes]:
                doc.letter, doc.date_let, doc.clearing = code, day, clearing
            continue
        rc = item
        assert isinstance(rc, ErpReceipt)
        if rc.suspense or any(d.letter for d in rc.documents):
            continue
        allocs = [a for d in rc.documents for a in d.allocations if a.payment is rc.tx]
        if not allocs or any(a.kind not in ("full", "grouped") for a in allocs):
            continue
        group = list(rc.documents) + [cn for d in rc.documents for cn in d.credit_notes if cn.issue_date <= day]
        if sum(d.total_cents for d in group) != rc.amount_cents or rng.random() >= LETTER_RATE:
            continue
        code = next(codes)
        rc.letter, rc.cleared = code, True
        for doc in group:
            doc.letter, doc.date_let, doc.clearing = code, day, rc


def number_sap(entity: Entity, documents: list[Document], receipts: list[ErpReceipt]) -> None:
    """SAP BELNR: billing documents from 0090000001 per fiscal year, payments from 1400000001."""
    seq: dict[tuple[str, int], int] = {}
    for doc in sorted(documents, key=lambda d: (d.issue_date, d.doc_type, d.number)):
        key = ("09", doc.issue_date.year)
        seq[key] = seq.get(key, 0) + 1
        doc.erp_doc_no = f"0090{seq[key]:06d}"
    for rc in receipts:
        key = ("14", rc.booking_date.year)
        seq[key] = seq.get(key, 0) + 1
        rc.erp_doc_no = f"14{seq[key]:08d}"
