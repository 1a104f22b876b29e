"""Bank transaction codes that are not customer money, as data (``mappings/bank_codes.yaml``).

Why data: which ISO 20022 codes a bank uses for a loan drawdown or interest is a fact about
banks, not about Lettrage; a finance team that sees another kind of credit in its unapplied
cash adds its code here. The build reads it into ``fct_payment`` (warehouse/models/core).
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from mappings._loader import MAPPINGS_DIR, each_matching, load_model, overridable

DEFAULT_PATH = MAPPINGS_DIR / "bank_codes.yaml"
_CODE = re.compile(r"^[A-Z]{4}$")


class NotCustomerMoney(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    domains: tuple[str, ...] = ()
    subfamilies: tuple[str, ...] = ()

    @field_validator("domains", "subfamilies")
    @classmethod
    def _iso_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return each_matching(value, _CODE, "bank transaction code {!r} must be four capital letters (ISO 20022)")


class BankCodes(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    not_customer_money: NotCustomerMoney = NotCustomerMoney()


@overridable("bank_codes.yaml")
def load_bank_codes(path: Path) -> BankCodes:
    return load_model(BankCodes, path)
