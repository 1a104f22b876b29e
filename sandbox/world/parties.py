"""Customers of one entity: names, legal forms, identifiers, terms, behaviour and channel."""

from __future__ import annotations

import random
import re
import unicodedata

from sandbox.world import ids, names
from sandbox.world.model import Customer, Entity

BEHAVIOURS = ("punctual", "occasional_late", "chronic_late", "at_risk")
BEHAVIOUR_WEIGHTS = (40, 30, 20, 10)
CHANNELS = ("bank_transfer", "stripe", "gocardless")
CHANNEL_WEIGHTS = (60, 20, 20)
TERMS = (30, 45, 60)
CREDIT_LIMITS_EUR = (5_000, 10_000, 20_000, 35_000, 50_000, 100_000)
SUBSIDIARY_RATE = 0.08


def slug(text: str) -> str:
    """ASCII lower-case slug for e-mail domains (``Bâtiment Rousseau`` -> ``batiment-rousseau``)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def customer_id(entity: Entity, index: int) -> str:
    """Sage auxiliary account ``C00012`` (FR) or SAP KUNNR with leading zeros ``0000100012`` (DE)."""
    if entity.erp == "sap_export":
        return f"{100000 + index:010d}"
    return f"C{index:05d}"


def make_customers(entity: Entity, n: int, rng: random.Random) -> list[Customer]:
    """Draw ``n`` customers; names repeat with a city (then a number) once the stems run out."""
    fr = entity.country == "FR"
    stems = names.FR_STEMS if fr else names.DE_STEMS
    cities = names.FR_CITIES if fr else names.DE_CITIES
    forms, weights = (names.FR_FORMS, names.FR_FORM_WEIGHTS) if fr else (names.DE_FORMS, names.DE_FORM_WEIGHTS)
    owners = names.FR_OWNERS if fr else names.DE_OWNERS
    out: list[Customer] = []
    for i in range(1, n + 1):
        stem = stems[(i - 1) % len(stems)]
        city, postcode = cities[rng.randrange(len(cities))]
        round_no = (i - 1) // len(stems)
        if round_no == 1:
            stem = f"{stem} {city}"
        elif round_no > 1:
            stem = f"{stem} {round_no}"
        form = rng.choices(forms, weights)[0]
        name = f"{stem} {form}"
        domain = f"{slug(stem)}.{'fr' if fr else 'de'}"
        email = f"{'compta' if fr else 'buchhaltung'}@{domain}"
        siren = ids.siren(rng) if fr else None
        vat = ids.fr_vat(siren) if siren else ids.de_vat(rng)
        iban = ids.country_iban(rng, entity.country)
        parent_name = None
        payer_name, payer_iban = name, iban
        if rng.random() < SUBSIDIARY_RATE:
            pattern = rng.choice(names.FR_PARENT_FORMS if fr else names.DE_PARENT_FORMS)
            parent_name = pattern.format(stem=stem.split(" ")[-1] if " " in stem else stem)
            payer_name, payer_iban = parent_name, ids.country_iban(rng, entity.country)
        out.append(
            Customer(
                entity=entity.code, customer_id=customer_id(entity, i), name=name, legal_form=form, email=email,
                vat_id=vat, siren=siren, iban=iban, country=entity.country, city=city, postcode=postcode,
                terms_days=rng.choice(TERMS), credit_limit_cents=rng.choice(CREDIT_LIMITS_EUR) * 100,
                behaviour=rng.choices(BEHAVIOURS, BEHAVIOUR_WEIGHTS)[0],
                channel=rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
                account_owner=rng.choice(owners), payer_name=payer_name, payer_iban=payer_iban,
                parent_name=parent_name,
            )
        )
    return out
