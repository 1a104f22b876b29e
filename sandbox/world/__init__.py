"""The sample world: files in the real formats of Sage (FEC), SAP, camt.053, Stripe and GoCardless,
plus the ground truth that says which payment settles which invoice.

Public surface::

    write_world(root, *, seed=42, size="small", as_of=None) -> WorldSummary
    write_bulk_fec(path, n_invoices, seed) / write_bulk_sap(path, n_invoices, seed)
    iter_stripe_balance_transactions(n, seed) / iter_gocardless_payments(n, seed)
"""

from __future__ import annotations

from sandbox.world.bulk import (
    iter_gocardless_payments,
    iter_stripe_balance_transactions,
    write_bulk_fec,
    write_bulk_sap,
)
from sandbox.world.model import WorldSummary
from sandbox.world.world import write_world

__all__ = [
    "WorldSummary",
    "iter_gocardless_payments",
    "iter_stripe_balance_transactions",
    "write_bulk_fec",
    "write_bulk_sap",
    "write_world",
]
