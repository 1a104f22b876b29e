"""Build the whole sample world in memory, entity by entity, deterministically.

Every random draw comes from ``random.Random`` seeded by a string built from the
world seed, the entity code and the purpose, so adding a draw in one part never
shifts another part's numbers, and the same seed, size and ``as_of`` always give
the same world.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sandbox.world import bank, erp, erp_api
from sandbox.world import documents as docs
from sandbox.world import gocardless_world as gcw
from sandbox.world import stripe_world as sw
from sandbox.world.calendar import add_months, unix
from sandbox.world.entities import API_ENTITIES, ENTITIES
from sandbox.world.ids import IdFactory, ie_iban
from sandbox.world.model import Allocation, Document, Entity, EntityWorld
from sandbox.world.parties import make_customers
from sandbox.world.settle import settle_bank_transfers

SIZES: dict[str, int] = {"small": 1_500, "medium": 20_000}
MONTHS = 18
INVOICES_PER_CUSTOMER = 19  # over the 18 months, ~one a month


def invoice_target(size: str | int) -> int:
    """Approximate number of invoices over all entities for a size name or number."""
    if isinstance(size, bool):
        raise ValueError(f"size must be 'small', 'medium' or an int, not {size!r}")
    if isinstance(size, int):
        if size < len(ENTITIES):
            raise ValueError(f"size {size} is too small: at least one invoice per entity")
        return size
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: expected one of {sorted(SIZES)} or an int")
    return SIZES[size]


def _rng(seed: int, entity: Entity, purpose: str) -> random.Random:
    return random.Random(f"{seed}/{entity.code}/{purpose}")


def build_entity(entity: Entity, seed: int, per_entity: int, as_of: date) -> EntityWorld:
    """Customers, documents, payments, payouts, bank lines and ERP matching of one entity."""
    start = add_months(as_of, -MONTHS)
    ids = IdFactory(_rng(seed, entity, "ids"))
    if entity.erp in erp_api.API_ERPS:
        customers = erp_api.make_customers(entity, erp_api.API_CUSTOMERS, _rng(seed, entity, "customers"))
    else:
        n_customers = max(40, round(per_entity / INVOICES_PER_CUSTOMER))
        customers = make_customers(entity, n_customers, _rng(seed, entity, "customers"))
    invoices = docs.make_invoices(entity, customers, per_entity, start, as_of, _rng(seed, entity, "invoices"))
    credit_notes = docs.draw_credit_notes(entity, invoices, as_of, _rng(seed, entity, "credit_notes"))
    docs.mark_disputes(invoices, _rng(seed, entity, "disputes"))

    # provider identities for the customers who pay through them
    prng = _rng(seed, entity, "provider_ids")
    for c in customers:
        if c.channel == "stripe":
            c.stripe_customer_id = ids.stripe("cus", 14)
            c.stripe_customer_created = unix(start - timedelta(days=prng.randint(10, 400)), prng.randint(0, 86399))
        elif c.channel == "gocardless":
            c.gc_customer_id, c.gc_bank_account_id = ids.gocardless("CU"), ids.gocardless("BA")
            c.gc_mandate_id = ids.gocardless("MD")
            c.gc_mandate_reference = f"LETTRAGE-{ids.upper('', 8)}"
            c.gc_created = start - timedelta(days=prng.randint(10, 400))

    by_customer: dict[str, list[Document]] = {}
    for inv in invoices:
        by_customer.setdefault(inv.customer.customer_id, []).append(inv)
    srng, brng, grng = _rng(seed, entity, "stripe"), _rng(seed, entity, "bank_transfers"), _rng(seed, entity, "gc")
    stripe_book = sw.StripeBook(entity)
    gc_book = gcw.GcBook(entity, creditor=ids.gocardless("CR"), creditor_bank_account=ids.gocardless("BA"))
    customer_txs = []
    for c in customers:
        mine = by_customer.get(c.customer_id, [])
        if c.channel == "stripe":
            sw.settle_stripe(stripe_book, c, mine, as_of, srng, ids, credit_notes)
        elif c.channel == "gocardless":
            gcw.settle_gocardless(gc_book, c, mine, as_of, grng, ids)
        else:
            customer_txs.extend(settle_bank_transfers(entity, c, mine, as_of, brng))
    docs.number_credit_notes(entity, credit_notes)
    for cn in credit_notes:
        assert cn.credits is not None
        cn.credits.allocations.append(Allocation("erp", cn, cn.credits, -cn.total_cents, "credit_note"))

    stripe_payouts = sw.make_payouts(stripe_book, as_of, ids)
    gc_payouts = gcw.make_payouts(gc_book, as_of, ids)
    bank_rng = _rng(seed, entity, "bank")
    stripe_iban, gc_iban = ie_iban(bank_rng), ie_iban(bank_rng)
    txs = list(customer_txs)
    txs += [bank.payout_tx(po, entity, stripe_iban) for po in stripe_payouts if po.arrival_date <= as_of]
    txs += [bank.payout_tx(po, entity, gc_iban) for po in gc_payouts if po.arrival_date <= as_of]
    scale = per_entity / (SIZES["small"] / 2)
    txs += bank.other_txs(entity, start, as_of, scale, bank_rng)
    entries = bank.make_entries(entity, txs, bank_rng)

    all_docs = sorted(invoices + credit_notes, key=lambda d: (d.issue_date, d.doc_type, d.number))
    erp_rng = _rng(seed, entity, "erp")
    receipts = erp.make_receipts(entity, customer_txs, erp_rng)
    erp.match_in_erp(all_docs, receipts, erp_rng)
    if entity.erp == "sap_export":
        erp.number_sap(entity, all_docs, receipts)

    orng = _rng(seed, entity, "objects")
    stripe_objs = sw.build_objects(stripe_book, customers, stripe_payouts, as_of, orng, ids)
    gc_objs = gcw.build_objects(gc_book, customers, gc_payouts, as_of, orng, ids)
    world = EntityWorld(entity=entity, customers=customers, documents=all_docs, bank_entries=entries,
                        receipts=receipts, payouts=stripe_payouts + gc_payouts, stripe=stripe_objs,
                        gocardless=gc_objs)
    if entity.erp in erp_api.API_ERPS:
        world.erp_api = erp_api.build_objects(world, as_of, _rng(seed, entity, "erp_api"))
    return world


def build_world(seed: int, size: str | int, as_of: date) -> list[EntityWorld]:
    per_entity = max(1, invoice_target(size) // len(ENTITIES))
    api_per_entity = max(1, per_entity // erp_api.API_SHARE)  # the API entities stay small beside FR01/DE01
    return ([build_entity(e, seed, per_entity, as_of) for e in ENTITIES]
            + [build_entity(e, seed, api_per_entity, as_of) for e in API_ENTITIES])
