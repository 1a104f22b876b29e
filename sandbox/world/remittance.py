"""How payers write (or fail to write) invoice numbers on a bank transfer.

Each function returns remittance text for one style; the mix of styles is the
point: reconciliation must cope with exact, reworded, mistyped, missing,
grouped and structured (ISO 11649 ``RF``) references.
"""

from __future__ import annotations

import random

from sandbox.world import ids

# style -> weight (percent of single bank transfers; grouped payments are drawn before)
STYLES = {"exact": 65, "variant": 12, "typo": 4, "missing": 9, "rf": 4}


def pick_style(rng: random.Random) -> str:
    return rng.choices(tuple(STYLES), tuple(STYLES.values()))[0]


def _parts(number: str) -> tuple[str, str, str]:
    prefix, year, seq = number.split("-")
    return prefix, year, seq


def variant(number: str, country: str, rng: random.Random) -> str:
    """The same number written differently: no separators, lower case, words, zeros or year dropped."""
    prefix, year, seq = _parts(number)
    short = str(int(seq))
    word = "Facture n°" if country == "FR" else "Rechnung Nr."
    options = (
        f"{prefix}{year}{seq}",
        number.lower(),
        f"{word}{year}-{seq}" if country == "FR" else f"{word} {number}",
        f"RE {year}/{short}" if country == "DE" else f"RE {prefix}{year}{seq}",
        f"{prefix}-{year}-{short}",
        f"{prefix}-{seq}",
        f"{prefix} {short}",
    )
    return rng.choice(options)


def typo(number: str, rng: random.Random) -> str:
    """One transposed pair of different adjacent digits, or one wrong digit, in the sequence part."""
    prefix, year, seq = _parts(number)
    digits = list(seq)
    pairs = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
    if pairs and rng.random() < 0.6:
        i = rng.choice(pairs)
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    else:
        i = len(digits) - 1 - rng.randrange(min(3, len(digits)))
        digits[i] = str((int(digits[i]) + rng.randint(1, 9)) % 10)
    return f"{prefix}-{year}-{''.join(digits)}"


def missing(payer: str, country: str, rng: random.Random) -> str:
    """Only the payer's own words: no invoice number at all."""
    options = (
        (f"VIREMENT {payer.upper()}", "REGLEMENT FACTURE", "PAIEMENT FOURNISSEUR", f"{payer.upper()} REGLEMENT", "")
        if country == "FR"
        else (f"Überweisung {payer}", "Rechnungsausgleich", "Zahlung offene Posten", f"{payer} Zahlung", "")
    )
    return rng.choice(options)


def grouped(numbers: list[str], country: str, rng: random.Random) -> str:
    sep = rng.choice((" ", ", ", " / "))
    head = rng.choice(("", "Factures " if country == "FR" else "Rechnungen "))
    return (head + sep.join(numbers))[:140]


def rf(number: str) -> str:
    """ISO 11649 creditor reference carrying the invoice number's alphanumerics."""
    return ids.rf_reference(number)
