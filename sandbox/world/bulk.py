"""Large synthetic files and object streams for the load and sync benchmarks.

Nothing here is held in memory beyond a small window: FEC and SAP rows are
generated and written as a stream (1,000,000 invoices stay far below 2 GB), and
the provider iterators yield one API object at a time.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sandbox.world.calendar import iso_z, unix
from sandbox.world.documents import vat_of
from sandbox.world.ids import IdFactory
from sandbox.world.stripe_world import stripe_fee
from sandbox.world.writers.fec import FecEntry, FecLine, write_fec
from sandbox.world.writers.sap import SapItem, write_sap_items

BULK_YEAR = 2024
PAID_RATE = 0.7
PAY_LAG = 400  # invoices between an invoice and its receipt (~a month of issuing at 1M/year)


def _invoice_stream(n: int, seed: int, tag: str) -> Iterator[tuple[int, date, str, int, int]]:
    """(index, issue date, customer number, net cents, vat cents) spread evenly over one year."""
    rng = random.Random(f"bulk/{tag}/{seed}")
    customers = max(50, n // 25)
    start = date(BULK_YEAR, 1, 1)
    for i in range(n):
        day = start + timedelta(days=i * 365 // max(n, 1))
        net = rng.randint(5_000, 2_000_000)
        yield i, day, f"{rng.randrange(customers) + 1}", net, vat_of(net, 20)


def _fec_stream(n: int, seed: int) -> Iterator[FecEntry]:
    rng = random.Random(f"bulk/fec-pay/{seed}")
    window: deque[tuple[str, str, int, date]] = deque()
    letters = 0
    for i, day, cust, net, vat in _invoice_stream(n, seed, "fec"):
        number = f"FA-{day.year}-{i + 1:07d}"
        aux = f"C{int(cust):06d}"
        name = f"Client {cust} SAS"
        total = net + vat
        pay = rng.random() < PAID_RATE
        letter = ""
        if pay and rng.random() < 0.6:
            letters += 1
            letter = _letter_code(letters)
        yield FecEntry("VE", day, number, f"Facture {number} {name}", day, [
            FecLine("411000", debit=total, aux_num=aux, aux_lib=name, letter=letter,
                    date_let=day + timedelta(days=30) if letter else None),
            FecLine("706000", credit=net), FecLine("445710", credit=vat)])
        if pay:
            window.append((number, aux + "|" + name + "|" + letter, total, day))
        if len(window) > PAY_LAG or (i == n - 1):
            while window and (len(window) > PAY_LAG or i == n - 1):
                num, who, amount, issued = window.popleft()
                aux2, name2, let2 = who.split("|")
                paid_on = issued + timedelta(days=30)
                yield FecEntry("BQ", paid_on, f"BQ{num[3:]}", f"VIR {name2.upper()} {num}", paid_on, [
                    FecLine("512000", debit=amount),
                    FecLine("411000", credit=amount, aux_num=aux2, aux_lib=name2, letter=let2,
                            date_let=paid_on if let2 else None)])


def _letter_code(n: int) -> str:
    width, base = 2, 26 * 26
    n -= 1
    while n >= base:
        n -= base
        width += 1
        base = 26**width
    code = ""
    for _ in range(width):
        n, r = divmod(n, 26)
        code = chr(65 + r) + code
    return code


def write_bulk_fec(path: Path, n_invoices: int, seed: int = 42, *, encoding: str = "utf-8") -> int:
    """One fiscal year's FEC with ``n_invoices`` sales entries (3 lines each) and ~70% receipts.

    Returns the number of lines written (header excluded).
    """
    return write_fec(Path(path), _fec_stream(n_invoices, seed), encoding=encoding)


def _sap_stream(n: int, seed: int, company: str) -> Iterator[SapItem]:
    rng = random.Random(f"bulk/sap-pay/{seed}")
    for i, day, cust, net, vat in _invoice_stream(n, seed, "sap"):
        kunnr = f"{100000 + int(cust):010d}"
        number = f"RE-{day.year}-{i + 1:07d}"
        total = net + vat
        cleared = rng.random() < PAID_RATE * 0.6
        pay_day = day + timedelta(days=30)
        augbl = f"14{i + 1:08d}" if cleared else ""
        yield SapItem(bukrs=company, kunnr=kunnr, belnr=f"009{i + 1:07d}", blart="RV", bldat=day, budat=day,
                      zfbdt=day, zbd1t=30, waers="EUR", amount_cents=total, xblnr=number, zuonr=number,
                      sgtxt=f"Rechnung {number}", augbl=augbl, augdt=pay_day if cleared else None)
        if cleared:
            yield SapItem(bukrs=company, kunnr=kunnr, belnr=augbl, blart="DZ", bldat=pay_day, budat=pay_day,
                          zfbdt=pay_day, zbd1t=0, waers="EUR", amount_cents=-total, xblnr=number, zuonr=number,
                          sgtxt="Zahlungseingang", augbl=augbl, augdt=pay_day)


def write_bulk_sap(path: Path, n_invoices: int, seed: int = 42, *, company: str = "DE01") -> int:
    """A BSID/BSAD-layout CSV with ``n_invoices`` RV lines (plus DZ lines for the ~42% cleared). Returns rows."""
    return write_sap_items(Path(path), _sap_stream(n_invoices, seed, company))


def iter_stripe_balance_transactions(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """``n`` Stripe balance transactions (charges, some refunds, a payout every ~50) with ``_payout``.

    Each payout's own transaction closes its group, so composition sums hold within the stream.
    """
    rng = random.Random(f"bulk/stripe/{seed}")
    ids = IdFactory(random.Random(f"bulk/stripe-ids/{seed}"))
    t0 = unix(date(BULK_YEAR, 1, 1))
    group: list[dict[str, Any]] = []
    po_id = ids.stripe("po_1")
    for i in range(n):
        created = t0 + i * 60
        closing = len(group) >= 49 and sum(b["net"] for b in group) > 0
        if closing or i == n - 1 and group and sum(b["net"] for b in group) > 0:
            net = sum(b["net"] for b in group)
            yield _bulk_bt(ids.stripe("txn_1"), -net, 0, created, "payout", "payout", po_id, po_id)
            group, po_id = [], ids.stripe("po_1")
            continue
        if rng.random() < 0.03 and group:
            amount = -rng.randint(100, 5_000)
            bt = _bulk_bt(ids.stripe("txn_3"), amount, 0, created, "refund", "refund", ids.stripe("re_3"), po_id)
        else:
            amount = rng.randint(500, 500_000)
            bt = _bulk_bt(ids.stripe("txn_3"), amount, stripe_fee(amount), created, "charge", "charge",
                          ids.stripe("ch_3"), po_id)
        group.append(bt)
        yield bt


def _bulk_bt(txn: str, amount: int, fee: int, created: int, type_: str, category: str, source: str,
             payout: str) -> dict[str, Any]:
    return {
        "id": txn, "object": "balance_transaction", "amount": amount, "available_on": created + 2 * 86400,
        "created": created, "currency": "eur", "description": None, "exchange_rate": None, "fee": fee,
        "fee_details": [{"amount": fee, "application": None, "currency": "eur",
                         "description": "Stripe processing fees", "type": "stripe_fee"}] if fee else [],
        "net": amount - fee, "reporting_category": category, "source": source, "status": "available",
        "type": type_, "_payout": payout,
    }


def iter_gocardless_payments(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """``n`` GoCardless payments as the API returns them (mostly ``paid_out``, ~3% ``failed``)."""
    rng = random.Random(f"bulk/gc/{seed}")
    ids = IdFactory(random.Random(f"bulk/gc-ids/{seed}"))
    creditor = ids.gocardless("CR")
    mandates = [ids.gocardless("MD") for _ in range(max(10, min(5000, n // 20)))]
    start = date(BULK_YEAR, 1, 1)
    payout = ids.gocardless("PO")
    for i in range(n):
        day = start + timedelta(days=i * 365 // max(n, 1))
        if i % 100 == 0 and i:
            payout = ids.gocardless("PO")
        failed = rng.random() < 0.03
        number = f"FA-{day.year}-{i + 1:07d}"
        links = {"mandate": rng.choice(mandates), "creditor": creditor}
        if not failed:
            links["payout"] = payout
        yield {
            "id": ids.gocardless("PM"), "created_at": iso_z(day - timedelta(days=5), 9 * 3600 + i % 3600),
            "charge_date": day.isoformat(), "amount": rng.randint(500, 500_000),
            "description": f"Facture {number}", "currency": "EUR", "status": "failed" if failed else "paid_out",
            "amount_refunded": 0, "reference": number,
            "metadata": {"invoice_number": number, "erp_customer_id": f"C{rng.randrange(1, 5000):05d}"},
            "fx": {"fx_currency": "EUR", "fx_amount": None, "exchange_rate": None, "estimated_exchange_rate": None},
            "links": links, "retry_if_possible": True, "faster_ach": False,
        }
