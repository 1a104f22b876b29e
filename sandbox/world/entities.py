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


def _uk01() -> Entity:
    rng = random.Random("entity/UK01")
    return Entity(
        code="UK01", name="Lettrage Demo UK Ltd", country="GB", currency="GBP", erp="sage_accounting",
        iban=ids.gb_iban(rng, bank="NWBK"), bic="NWBKGB2LXXX", bank_name="NatWest",
        vat_id=f"GB{rng.randrange(10**8, 10**9)}", vat_rate_pct=20, invoice_prefix="SI", credit_prefix="SCN",
        seq_width=5, city="London",
    )


def _us01() -> Entity:
    # camt.053 needs an IBAN: the US entity's USD account is held with a London branch.
    rng = random.Random("entity/US01")
    return Entity(
        code="US01", name="Lettrage Demo Inc.", country="US", currency="USD", erp="netsuite",
        iban=ids.gb_iban(rng, bank="CITI"), bic="CITIGB2LXXX", bank_name="Citibank London",
        vat_id=f"{rng.randrange(10, 99)}-{rng.randrange(10**6, 10**7)}", vat_rate_pct=0, invoice_prefix="INV",
        credit_prefix="CM", seq_width=6, city="New York",
    )


def _es01() -> Entity:
    rng = random.Random("entity/ES01")
    return Entity(
        code="ES01", name="Lettrage Demo España S.L.", country="ES", currency="EUR", erp="sap_b1",
        iban=ids.es_iban(rng), bic="CAIXESBBXXX", bank_name="CaixaBank",
        vat_id=f"ESB{rng.randrange(10**7, 10**8)}", vat_rate_pct=21, invoice_prefix="FV", credit_prefix="AB",
        seq_width=6, city="Madrid",
    )


ENTITIES: tuple[Entity, ...] = (_fr01(), _de01())
# Entities whose ERP is read over an API (Sage Accounting, NetSuite, SAP Business One).
# Kept apart from ENTITIES so the file-based entities' size (and bytes) do not change.
API_ENTITIES: tuple[Entity, ...] = (_uk01(), _us01(), _es01())
