"""Identifiers with real check digits: IBAN (ISO 13616 mod-97), SIREN (Luhn),
French VAT keys, ISO 11649 creditor references (``RF..``) and provider ids.

Why: the reconciliation and the connectors validate these; a sample world with
fake check digits would teach them to accept garbage.
"""

from __future__ import annotations

import random
import string

_ALNUM = string.ascii_letters + string.digits
_UPPER_ALNUM = string.ascii_uppercase + string.digits


def _alnum_to_digits(text: str) -> str:
    """Letters become 10..35 (A=10), as ISO 7064 mod 97-10 wants."""
    return "".join(str(int(ch, 36)) for ch in text.upper())


def mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 remainder of an alphanumeric string."""
    return int(_alnum_to_digits(text)) % 97


def iban(country: str, bban: str) -> str:
    """Build an IBAN with valid check digits from a country code and a BBAN."""
    check = 98 - mod97(bban + country + "00")
    return f"{country}{check:02d}{bban}"


def iban_is_valid(value: str) -> bool:
    v = value.replace(" ", "").upper()
    return len(v) >= 15 and v[:2].isalpha() and mod97(v[4:] + v[:4]) == 1


def _rib_key(bank: str, branch: str, account: str) -> str:
    """French RIB key: 97 - ((89*bank + 15*branch + 3*account) mod 97), letters mapped."""
    trans = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "12345678912345678923456789")
    acc = int(account.upper().translate(trans))
    return f"{97 - ((89 * int(bank) + 15 * int(branch) + 3 * acc) % 97):02d}"


def fr_iban(rng: random.Random, bank: str | None = None) -> str:
    """French IBAN (27 chars): bank 5 + branch 5 + account 11 + RIB key 2."""
    bank = bank or f"{rng.choice([30004, 30002, 30003, 10278, 11315, 30066, 18206, 17515]):05d}"
    branch = f"{rng.randrange(100000):05d}"
    account = f"{rng.randrange(10**11):011d}"
    return iban("FR", bank + branch + account + _rib_key(bank, branch, account))


def de_iban(rng: random.Random, blz: str | None = None) -> str:
    """German IBAN (22 chars): Bankleitzahl 8 + account 10."""
    blz = blz or rng.choice(["10070000", "20040000", "50010517", "37040044", "70150000", "60050101", "43060967"])
    return iban("DE", blz + f"{rng.randrange(10**10):010d}")


def ie_iban(rng: random.Random) -> str:
    """Irish IBAN (Stripe and GoCardless settle from Irish/UK-operated accounts)."""
    return iban("IE", "AIBK" + "931152" + f"{rng.randrange(10**8):08d}")


def gb_iban(rng: random.Random, bank: str | None = None) -> str:
    """UK IBAN (22 chars): bank code 4 letters + sort code 6 + account 8."""
    bank = bank or rng.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"])
    return iban("GB", bank + f"{rng.randrange(10**6):06d}" + f"{rng.randrange(10**8):08d}")


def es_iban(rng: random.Random) -> str:
    """Spanish IBAN (24 chars): bank 4 + branch 4 + control 2 + account 10."""
    bank = rng.choice(["2100", "0049", "0182", "0081", "2038"])
    return iban("ES", bank + f"{rng.randrange(10**4):04d}" + f"{rng.randrange(100):02d}" + f"{rng.randrange(10**10):010d}")


def country_iban(rng: random.Random, country: str) -> str:
    return fr_iban(rng) if country == "FR" else de_iban(rng)


def luhn_is_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def luhn_complete(prefix: str) -> str:
    """Append the Luhn check digit to ``prefix``."""
    for d in range(10):
        if luhn_is_valid(prefix + str(d)):
            return prefix + str(d)
    raise AssertionError("unreachable")


def siren(rng: random.Random) -> str:
    """Nine-digit SIREN whose last digit is its Luhn key."""
    return luhn_complete(f"{rng.choice('3456789')}{rng.randrange(10**7):07d}")


def fr_vat(siren_number: str) -> str:
    """French intra-community VAT number: FR + key + SIREN, key = (12 + 3 * (SIREN mod 97)) mod 97."""
    return f"FR{(12 + 3 * (int(siren_number) % 97)) % 97:02d}{siren_number}"


def de_vat(rng: random.Random) -> str:
    """German USt-IdNr (DE + 9 digits, last one an ISO 7064 MOD 11,10 check digit)."""
    body = f"{rng.randrange(1, 10)}{rng.randrange(10**7):07d}"
    product = 10
    for ch in body:
        total = (int(ch) + product) % 10 or 10
        product = (2 * total) % 11
    check = (11 - product) % 10
    return f"DE{body}{check}"


def rf_reference(payload: str) -> str:
    """ISO 11649 structured creditor reference ``RFkk<payload>`` (payload up to 21 alphanumerics)."""
    body = "".join(ch for ch in payload.upper() if ch.isalnum())[:21]
    check = 98 - mod97(body + "RF00")
    return f"RF{check:02d}{body}"


def rf_is_valid(value: str) -> bool:
    v = value.replace(" ", "").upper()
    return v.startswith("RF") and 5 <= len(v) <= 25 and mod97(v[4:] + v[:4]) == 1


class IdFactory:
    """Random-looking but deterministic and unique provider ids (``ch_3…``, ``PM…``).

    Why a factory: ids must never repeat inside a world, and must come out the same
    for the same seed, so they are drawn from the world's own RNG and remembered.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()

    def _draw(self, prefix: str, alphabet: str, length: int) -> str:
        while True:
            value = prefix + "".join(self._rng.choices(alphabet, k=length))
            if value not in self._seen:
                self._seen.add(value)
                return value

    def stripe(self, prefix: str, length: int = 24) -> str:
        """Stripe style: ``ch_3Pq…`` — ``length`` mixed-case alphanumerics after the underscore.

        ``prefix`` may already hold the first characters after the underscore (``"ch_3"``).
        """
        head = prefix if "_" in prefix else prefix + "_"
        return self._draw(head, _ALNUM, length - (len(head) - head.index("_") - 1))

    def gocardless(self, prefix: str, length: int = 12) -> str:
        """GoCardless style: ``PM01HX…`` (upper-case alphanumerics)."""
        return self._draw(prefix, _UPPER_ALNUM, length)

    def upper(self, prefix: str, length: int) -> str:
        return self._draw(prefix, _UPPER_ALNUM, length)
