"""Bank transaction codes that are not customer money, as data (``mappings/bank_codes.yaml``).

Why data: which ISO 20022 codes a bank uses for a loan drawdown or interest is a fact about
banks, not about Lettrage; a finance team that sees another kind of credit in its unapplied
cash adds its code here. The build reads it into ``fct_payment`` (warehouse/models/core).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings._loader import MAPPINGS_DIR, each_matching, load_model, overridable

DEFAULT_PATH = MAPPINGS_DIR / "bank_codes.yaml"
_CODE = re.compile(r"^[A-Z]{4}$")
_WORD = re.compile(r"^ *[A-Za-z0-9][A-Za-z0-9 ]*$")


class NotCustomerMoney(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    domains: tuple[str, ...] = ()
    subfamilies: tuple[str, ...] = ()

    @field_validator("domains", "subfamilies")
    @classmethod
    def _iso_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return each_matching(value, _CODE, "bank transaction code {!r} must be four capital letters (ISO 20022)")


class Refunds(BaseModel):
    """Outgoing transfers that pay a customer's credit back (``warehouse/sql.py`` bank_refunds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(default=90, ge=1, le=366)
    words: tuple[str, ...] = ()

    @field_validator("words")
    @classmethod
    def _plain_upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # compared with LIKE '%word%' on the upper-cased remittance, on both engines: no quotes, no wildcards
        return _plain_words(value, "refund")


class TaxRefunds(BaseModel):
    """Credits from a tax office paying tax back: a payer name of ``payers`` and a word of ``words``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    payers: tuple[str, ...] = ()
    words: tuple[str, ...] = ()

    @field_validator("payers", "words")
    @classmethod
    def _plain_upper(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _plain_words(value, "tax refund")

    @staticmethod
    def _whole_words(words: tuple[str, ...]) -> str:
        # (letters, digits and single spaces only, validated: the same pattern on DuckDB's RE2 and Postgres)
        return "(^|[^A-Z0-9])(" + "|".join(" +".join(w.split()) for w in words) + ")([^A-Z0-9]|$)"

    @property
    def payer_pattern(self) -> str:
        return self._whole_words(self.payers)

    @property
    def word_pattern(self) -> str:
        return self._whole_words(self.words)


def _plain_words(value: tuple[str, ...], what: str) -> tuple[str, ...]:
    """Words that reach SQL as literals: letters, digits and spaces only, upper case, single spaces."""
    plain = each_matching(value, _WORD, what + " word {!r}: letters, digits and spaces only")
    return tuple(" ".join(word.upper().split()) for word in plain)


class BankCodes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    not_customer_money: NotCustomerMoney = NotCustomerMoney()
    refunds: Refunds = Refunds()
    tax_refunds: TaxRefunds = TaxRefunds()


@overridable("bank_codes.yaml")
def load_bank_codes(path: Path) -> BankCodes:
    return load_model(BankCodes, path)
