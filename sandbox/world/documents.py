"""Invoices and credit notes of one entity, numbered per calendar year as printed.

Amounts are drawn as net cents, VAT computed half-up on the net (what invoicing
software does), total = net + VAT, so every figure is exact.
"""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

from sandbox.world.model import Customer, Document, Entity

CREDIT_NOTE_RATE = 0.05
DISPUTED_RATE = 0.015


def vat_of(net_cents: int, rate_pct: int) -> int:
    """VAT in cents, rounded half-up as invoicing tools do."""
    return (net_cents * rate_pct + 50) // 100


def split_total(total_cents: int, rate_pct: int) -> tuple[int, int]:
    """Net and VAT of a VAT-inclusive total (refunds are decided as gross amounts)."""
    net = (total_cents * 100 + (100 + rate_pct) // 2) // (100 + rate_pct)
    return net, total_cents - net


def invoice_number(entity: Entity, year: int, seq: int, *, credit: bool = False) -> str:
    prefix = entity.credit_prefix if credit else entity.invoice_prefix
    return f"{prefix}-{year}-{seq:0{entity.seq_width}d}"


def _net_amount(rng: random.Random) -> int:
    """Log-normal net amount around 1,800 EUR, between 50 EUR and 60,000 EUR."""
    value = rng.lognormvariate(math.log(180_000), 0.95)
    return max(5_000, min(6_000_000, int(value)))


def make_invoices(
    entity: Entity, customers: list[Customer], per_entity: int, start: date, as_of: date, rng: random.Random
) -> list[Document]:
    """Draw about ``per_entity`` invoices spread over [start, as_of], numbered by issue date."""
    span = (as_of - start).days
    rate = per_entity / max(1, len(customers))
    drafts: list[tuple[date, int, int, Customer]] = []
    for idx, cust in enumerate(customers):
        count = max(1, int(rng.uniform(0.5, 1.5) * rate + 0.5))
        for _ in range(count):
            issued = start + timedelta(days=rng.randrange(span + 1))
            if issued.weekday() >= 5:
                issued -= timedelta(days=issued.weekday() - 4)
            if issued < start:
                issued = start
            drafts.append((issued, idx, _net_amount(rng), cust))
    drafts.sort(key=lambda d: (d[0], d[1], d[2]))
    seq: dict[int, int] = {}
    out: list[Document] = []
    for issued, _idx, net, cust in drafts:
        seq[issued.year] = seq.get(issued.year, 0) + 1
        vat = vat_of(net, entity.vat_rate_pct)
        number = invoice_number(entity, issued.year, seq[issued.year])
        po = f"PO-{rng.randrange(4500000000, 4599999999)}" if rng.random() < 0.5 else number
        out.append(
            Document(
                entity=entity.code, number=number, customer=cust, doc_type="invoice", issue_date=issued,
                due_date=issued + timedelta(days=cust.terms_days), net_cents=net, vat_cents=vat,
                total_cents=net + vat, po_number=po,
            )
        )
    return out


def credit_note(entity: Entity, invoice: Document, issued: date, total_cents: int) -> Document:
    """A credit note netting ``total_cents`` (positive input) off ``invoice``; numbered later."""
    if total_cents == invoice.total_cents:
        net, vat = invoice.net_cents, invoice.vat_cents
    else:
        net, vat = split_total(total_cents, entity.vat_rate_pct)
    cn = Document(
        entity=entity.code, number="", customer=invoice.customer, doc_type="credit_note", issue_date=issued,
        due_date=issued, net_cents=-net, vat_cents=-vat, total_cents=-total_cents, po_number=invoice.number,
        credits=invoice,
    )
    invoice.credit_notes.append(cn)
    return cn


def draw_credit_notes(entity: Entity, invoices: list[Document], as_of: date, rng: random.Random) -> list[Document]:
    """~5% of invoices get a credit note a few days after issue: 35% full, else 10–50% of the total."""
    out: list[Document] = []
    for inv in invoices:
        if rng.random() >= CREDIT_NOTE_RATE:
            continue
        issued = inv.issue_date + timedelta(days=rng.randint(2, 25))
        if issued > as_of:
            continue
        if rng.random() < 0.35:
            amount = inv.total_cents
        else:
            net = max(100, int(inv.net_cents * rng.uniform(0.1, 0.5)))
            amount = net + vat_of(net, entity.vat_rate_pct)
        out.append(credit_note(entity, inv, issued, amount))
    return out


def number_credit_notes(entity: Entity, notes: list[Document]) -> None:
    """Credit notes are numbered per year in issue order once all of them exist."""
    notes.sort(key=lambda d: (d.issue_date, d.po_number, -d.total_cents))
    seq: dict[int, int] = {}
    for cn in notes:
        seq[cn.issue_date.year] = seq.get(cn.issue_date.year, 0) + 1
        cn.number = invoice_number(entity, cn.issue_date.year, seq[cn.issue_date.year], credit=True)


def mark_disputes(invoices: list[Document], rng: random.Random) -> None:
    for inv in invoices:
        if rng.random() < DISPUTED_RATE and not inv.credit_notes:
            inv.disputed = True


def credited_cents(invoice: Document, until: date | None = None) -> int:
    """Positive sum of credit notes on ``invoice`` (issued on or before ``until`` if given)."""
    return -sum(cn.total_cents for cn in invoice.credit_notes if until is None or cn.issue_date <= until)
