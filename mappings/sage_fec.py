"""Sage FEC conventions and the customer-export column mapping, as data.

``mappings/sage_fec/conventions.yaml`` says which journals are sales, bank or
opening (à-nouveaux) journals, which accounts are customer accounts and which payment terms to
assume per entity; ``mappings/sage_fec/customers.yaml`` maps a customer
export's headers to canonical fields, so a differently named export needs no code.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings._loader import MAPPINGS_DIR, load_model
from mappings.csv_export import CsvColumnMapping

CONVENTIONS_PATH = MAPPINGS_DIR / "sage_fec" / "conventions.yaml"
CUSTOMERS_PATH = MAPPINGS_DIR / "sage_fec" / "customers.yaml"

# The 18 columns of art. A47 A-1 LPF, in the legal order and spelling.
FEC_COLUMNS: tuple[str, ...] = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib",
    "CompAuxNum", "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit",
    "EcritureLet", "DateLet", "ValidDate", "Montantdevise", "Idevise",
)
FEC_OPTIONAL: frozenset[str] = frozenset({"Montantdevise", "Idevise"})
# The legal alternative to Debit and Credit (BOI-CF-IOR-60-40-20 §80): one amount and its side.
FEC_SIGNED: tuple[str, ...] = ("Montant", "Sens")
# A journal code as FEC exports spell them (VE, BQ1, RAN, A-NOUV); the staging SQL quotes them as literals.
_JOURNAL = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


class FecConventions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fec_file_glob: str = "*FEC*.txt"
    customers_file_glob: str = "customers*.csv"
    sales_journals: tuple[str, ...] = ("VE",)
    bank_journals: tuple[str, ...] = ("BQ",)
    # Opening-balance (à-nouveaux) journals: their customer-account lines are the invoices and
    # credits carried forward from the previous year, read by stg_sage_fec__invoices.
    opening_journals: tuple[str, ...] = ("AN", "RAN", "ANO", "OUV")
    customer_account_prefixes: tuple[str, ...] = ("411",)
    require_aux_on_customer_accounts: bool = True
    balance_tolerance: Decimal = Decimal("0.00")
    default_payment_terms_days: dict[str, int] = Field(default_factory=dict)
    default_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")

    @field_validator("sales_journals", "bank_journals", "opening_journals")
    @classmethod
    def _journal_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not _JOURNAL.match(code):
                raise ValueError(f"journal code {code!r} must be 1 to 20 letters, digits, '-' or '_'")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _opening_is_its_own_journal(self) -> FecConventions:
        shared = sorted(set(self.opening_journals) & {*self.sales_journals, *self.bank_journals})
        if shared:
            raise ValueError(f"opening_journals {shared} are also sales or bank journals: "
                             "an à-nouveaux entry carries balances forward, it is neither a sale nor a receipt")
        return self


@lru_cache(maxsize=8)
def load_fec_conventions(path: Path = CONVENTIONS_PATH) -> FecConventions:
    return load_model(FecConventions, path)


@lru_cache(maxsize=8)
def load_fec_customers_mapping(path: Path = CUSTOMERS_PATH) -> CsvColumnMapping:
    return load_model(CsvColumnMapping, path)
