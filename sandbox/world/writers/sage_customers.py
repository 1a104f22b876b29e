"""Sage customer export (``customers.csv``): ``;`` separated UTF-8, decimal comma."""

from __future__ import annotations

import csv
from pathlib import Path

from sandbox.world.model import EntityWorld
from sandbox.world.writers.formats import cents_plain

COLUMNS = ("CompAuxNum", "Nom", "Email", "TVA", "SIREN", "DelaiPaiementJours", "IBAN", "Pays", "EncoursMax",
           "Responsable")


def write_sage_customers(path: Path, world: EntityWorld) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        w.writerow(COLUMNS)
        for c in world.customers:
            w.writerow([c.customer_id, c.name, c.email, c.vat_id, c.siren or "", c.terms_days, c.iban, c.country,
                        cents_plain(c.credit_limit_cents, ","), c.account_owner])
    return len(world.customers)
