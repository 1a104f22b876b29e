"""The group's legal entities. Add an :class:`Entity` here to grow the world.

Entity identifiers (SIREN, IBAN) are drawn from an RNG seeded by the entity code
only, so they stay the same whatever the world's seed: configuration written by
people (world.json, secrets) keeps pointing at the same accounts.
"""

from __future__ import annotations

import random

from sandbox.world import ids
from sandbox.world.model import Entity


def _fr01() -> Entity:
    rng = random.Random("entity/FR01")
    siren = ids.siren(rng)
    return Entity(
        code="FR01", name="Lettrage Démo France SAS", country="FR", currency="EUR", erp="sage_fec",
        iban=ids.fr_iban(rng, bank="30004"), bic="BNPAFRPPXXX", bank_name="BNP Paribas",
        vat_id=ids.fr_vat(siren), vat_rate_pct=20, invoice_prefix="FA", credit_prefix="AV", seq_width=6,
        siren=siren, city="Paris",
    )


def _de01() -> Entity:
    rng = random.Random("entity/DE01")
    return Entity(
        code="DE01", name="Lettrage Demo GmbH", country="DE", currency="EUR", erp="sap_export",
        iban=ids.de_iban(rng, blz="70150000"), bic="SSKMDEMMXXX", bank_name="Stadtsparkasse München",
        vat_id=ids.de_vat(rng), vat_rate_pct=19, invoice_prefix="RE", credit_prefix="GS", seq_width=5,
        city="München",
    )


ENTITIES: tuple[Entity, ...] = (_fr01(), _de01())
