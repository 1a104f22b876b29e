"""The entity's bank account: every movement, grouped into booked entries with references.

Customer transfers, provider payouts, supplier payments, monthly fees and the
odd SEPA return all land here; a few same-day customer transfers are booked as
one batch entry (several ``TxDtls`` in one ``Ntry``), whose transactions are then
known as ``<AcctSvcrRef>/<n>`` (n from 1).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sandbox.world import ids, names
from sandbox.world.calendar import add_months, month_end, next_business_day
from sandbox.world.model import BankEntry, BankTx, Entity, Payout

BATCH_DAY_RATE = 0.06
STRIPE_NAME = "STRIPE PAYMENTS EUROPE LTD"
GOCARDLESS_NAME = "GOCARDLESS LTD"
RETURN_RATE = 0.05
RETURN_CODES = ("AC04", "AC01", "MS03", "AM05")


def payout_tx(po: Payout, entity: Entity, provider_iban: str) -> BankTx:
    """The credit a provider payout makes on arrival (Ustrd carries the payout id/reference)."""
    if po.source == "stripe":
        name, ustrd, e2e = STRIPE_NAME, f"STRIPE PAYOUT {po.payout_id} {po.reference}", po.payout_id[:35]
    else:
        name, ustrd, e2e = GOCARDLESS_NAME, po.reference, po.reference[:35]
    tx = BankTx(booking_date=po.arrival_date, amount_cents=po.amount_cents, counterparty_name=name,
                counterparty_iban=provider_iban, ustrd=ustrd, end_to_end_id=e2e,
                kind="stripe_payout" if po.source == "stripe" else "gc_payout", payout=po)
    po.bank_tx = tx
    return tx


def other_txs(entity: Entity, start: date, as_of: date, scale: float, rng: random.Random) -> list[BankTx]:
    """Supplier payments, monthly account fees and returned supplier transfers (not receivables)."""
    fr = entity.country == "FR"
    suppliers = [(s, ids.country_iban(rng, entity.country)) for s in (names.FR_SUPPLIERS if fr else names.DE_SUPPLIERS)]
    out: list[BankTx] = []
    month = date(start.year, start.month, 1)
    while month <= as_of:
        end = min(month_end(month), as_of)
        for _ in range(rng.randint(3, 7)):
            day = next_business_day(month + timedelta(days=rng.randrange((end - month).days + 1)))
            if day > as_of:
                continue
            name, iban = rng.choice(suppliers)
            amount = max(5_000, int(rng.uniform(300, 12_000) * 100 * scale))
            ref = f"{'FACTURE' if fr else 'Rechnung'} {rng.randrange(10**5, 10**6)}"
            tx = BankTx(booking_date=day, amount_cents=-amount, counterparty_name=name, counterparty_iban=iban,
                        family="ICDT", ustrd=ref, end_to_end_id=f"{entity.code}-PAY-{rng.randrange(10**8):08d}",
                        kind="supplier")
            out.append(tx)
            back = next_business_day(day + timedelta(days=3))
            if rng.random() < RETURN_RATE and back <= as_of:
                out.append(BankTx(booking_date=back, amount_cents=amount, counterparty_name=name,
                                  counterparty_iban=iban, family="ICDT", subfamily="RRTN", ustrd=ref,
                                  end_to_end_id=tx.end_to_end_id, return_reason=rng.choice(RETURN_CODES),
                                  kind="return"))
        fee_day = end if end == as_of else next_business_day(end - timedelta(days=2))
        if fee_day <= as_of and fee_day >= month:
            out.append(BankTx(booking_date=fee_day, amount_cents=-rng.randint(1500, 6000),
                              counterparty_name=entity.bank_name, counterparty_iban="", domain="ACMT",
                              family="MDOP", subfamily="CHRG",
                              ustrd="FRAIS TENUE DE COMPTE" if fr else "Kontoführungsentgelt", kind="fee"))
        month = add_months(month, 1)
    return out


def make_entries(entity: Entity, txs: list[BankTx], rng: random.Random) -> list[BankEntry]:
    """Book transactions as entries in date order, batching a few same-day customer credits, and number them."""
    ordered = sorted(txs, key=lambda t: t.booking_date)
    by_day: dict[date, list[BankTx]] = {}
    for tx in ordered:
        by_day.setdefault(tx.booking_date, []).append(tx)
    entries: list[BankEntry] = []
    for day in sorted(by_day):
        day_txs = by_day[day]
        customers = [t for t in day_txs if t.kind == "customer"]
        batched: list[BankTx] = []
        if len(customers) >= 2 and rng.random() < BATCH_DAY_RATE:
            batched = customers[: rng.randint(2, min(4, len(customers)))]
        done = {id(t) for t in batched}
        if batched:
            entries.append(BankEntry(day, day, batched, additional_info="SEPA CREDIT TRANSFER BATCH"))
        for tx in day_txs:
            if id(tx) not in done:
                entries.append(BankEntry(day, day, [tx]))
    for seq, entry in enumerate(entries, start=1):
        entry.acct_svcr_ref = f"BQ{entity.code}{entry.booking_date:%y%m%d}{seq:07d}"
        if len(entry.txs) == 1:
            entry.txs[0].ref = entry.acct_svcr_ref
        else:
            for n, tx in enumerate(entry.txs, start=1):
                tx.ref = f"{entry.acct_svcr_ref}/{n}"
    return entries


def opening_balance_cents(scale: float) -> int:
    """A plausible starting balance so the account rarely dips below zero."""
    return int(150_000_00 * max(1.0, scale))
