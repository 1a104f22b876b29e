"""Sage FEC conventions and the customer-export column mapping, as data.

``mappings/sage_fec/conventions.yaml`` says which journals are sales or bank
journals, which accounts are customer accounts and which payment terms to
assume per entity; ``mappings/sage_fec/customers.yaml`` maps a customer
export's headers to canonical fields, so a differently named export needs no code.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

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


class FecConventions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fec_file_glob: str = "*FEC*.txt"
    customers_file_glob: str = "customers*.csv"
    sales_journals: tuple[str, ...] = ("VE",)
    bank_journals: tuple[str, ...] = ("BQ",)
    customer_account_prefixes: tuple[str, ...] = ("411",)
    require_aux_on_customer_accounts: bool = True
    balance_tolerance: Decimal = Decimal("0.00")
    default_payment_terms_days: dict[str, int] = Field(default_factory=dict)
    default_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")


@lru_cache(maxsize=8)
def load_fec_conventions(path: Path = CONVENTIONS_PATH) -> FecConventions:
    return load_model(FecConventions, path)


@lru_cache(maxsize=8)
def load_fec_customers_mapping(path: Path = CUSTOMERS_PATH) -> CsvColumnMapping:
    return load_model(CsvColumnMapping, path)
