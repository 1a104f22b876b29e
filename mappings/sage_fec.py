"""Sage FEC conventions and the customer-export column mapping, as data.

``mappings/sage_fec/conventions.yaml`` says which journals are sales, bank or
opening (à-nouveaux) journals, which accounts are customer accounts, which payment terms to
assume per entity and where a package that numbers pieces itself prints the invoice number;
``mappings/sage_fec/customers.yaml`` maps a customer export's headers to canonical fields, so a
differently named export needs no code.
"""

from __future__ import annotations

import re
import warnings
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings._loader import MAPPINGS_DIR, each_matching, load_model, overridable
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
_ACCOUNT_PREFIX = re.compile(r"^[0-9]{1,8}$")
# The invoice number in an entry's label (EcritureLib "Facture F2026-0031 DUPONT", "Avoir A2026-0172
# s/ F2026-0063", "Fact. n° 2026/0042"): a keyword, then the number as the first group.
INVOICE_NUMBER_IN_LABEL = (
    r"(?i)\b(?:factures?|fact|fac|fa|avoirs?|av)\b\.?\s*(?:n[°ºo]\.?\s*)?"
    r"((?:[A-Z]{1,4}[-/]?)?\d{2,4}[-/]?\d{2,6})\b"
)
# Escapes DuckDB's RE2 and Postgres read alike (\b and \B reach Postgres as \y and \Y: warehouse/sql.py).
_PORTABLE_ESCAPES = frozenset("dDsSwWbBtnr")


def _portable_regex(pattern: str, groups: int | None = None) -> str:
    """``pattern`` if DuckDB (RE2) and Postgres (ARE) read it alike, else ValueError saying what is not
    portable; ``groups``: how many capturing groups it must have. Python's ``re`` checks the syntax and
    counts the groups (its FutureWarning on POSIX classes such as ``[[:alpha:]]``, which both engines
    read, is silenced); the walk below refuses what the engines read apart."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regular expression {pattern!r} does not compile: {exc}") from exc
    if groups is not None and compiled.groups != groups:
        raise ValueError(f"regular expression {pattern!r} has {compiled.groups} groups, expected exactly {groups}")
    i, in_class = 0, False
    while i < len(pattern):
        c, nxt = pattern[i], pattern[i + 1:i + 2]
        if c == "\\":
            if nxt.isalnum() and (nxt not in _PORTABLE_ESCAPES or (in_class and nxt in "DSWbB")):
                raise ValueError(f"regular expression {pattern!r}: escape \\{nxt} at {i} is not read alike by "
                                 "DuckDB and Postgres (portable: \\d \\s \\w \\b \\D \\S \\W \\B \\t \\n \\r "
                                 "and escaped punctuation)")
            i += 2
            continue
        if in_class:
            if pattern.startswith("[:", i):  # a POSIX class such as [:alpha:]
                i = pattern.index(":]", i + 2) + 2
                continue
            in_class = c != "]"
        elif c == "[":
            in_class = True
            i += 2 if nxt == "^" else 1
            if pattern[i:i + 1] == "]":  # a leading ] is a member
                i += 1
            continue
        elif c == "(" and nxt == "?" and not pattern.startswith("(?:", i) and not (i == 0 and pattern.startswith("(?i)")):
            raise ValueError(f"regular expression {pattern!r}: group {pattern[i:i + 3]!r}… at {i} is not portable "
                             "(lookarounds, named and atomic groups and inline flags differ between DuckDB and "
                             "Postgres: use (?:…), and (?i) only at the start)")
        elif c in "*+?}" and nxt in ("?", "+") and pattern[i - 1:i] != "(":
            raise ValueError(f"regular expression {pattern!r}: lazy or possessive quantifier {c + nxt!r} at {i} "
                             "is not portable (DuckDB and Postgres choose different matches)")
        i += 1
    return pattern


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
    # A bank-journal entry that credits the bank against none of these accounts (a VAT refund on 44567, a
    # deposit returned on 275, a supplier's refund on 401) is not a customer's money: the bank credit it
    # books is left out of fct_payment. Customers (41…, bills of exchange 413 included), other debtors (46…),
    # suspense accounts (47…, where an accountant parks a receipt not yet identified) and cheques or bills
    # remitted for collection (511…: 5112, 5113, the way a cheque remittance or an LCR reaches the bank) may be.
    customer_money_account_prefixes: tuple[str, ...] = ("41", "46", "47", "511")
    # Accounts money crosses between the customer's account and the bank, lettered at each step: cheques to
    # deposit (5112), bills remitted for collection (5113), bills of exchange accepted (413). A bank entry
    # against one of them pays what the entries lettered with it received (stg_sage_fec__payments).
    transit_account_prefixes: tuple[str, ...] = ("511", "413")
    # Bills of exchange receivable (413: an LCR the customer accepted): the customer line of an entry that
    # debits one is a bill on its way to the bank, not yet money (stg_sage_fec__bills).
    bills_account_prefixes: tuple[str, ...] = ("413",)
    # Cheques received and not yet deposited (5112: the accountant books 5112/411 when the cheque arrives):
    # the same, a cheque on its way to the bank until the deposit is credited (stg_sage_fec__bills, kind cheque).
    cheques_account_prefixes: tuple[str, ...] = ("5112",)
    # Charges an accountant writes a customer's debt off to (654 bad debts, 658 small differences of settlement,
    # 665 discounts granted, 627 bank charges the payer's bank deducted, 671 exceptional charges): the customer
    # line of an entry against one of them, lettered with the invoice, is a credit the ERP set against it
    # (stg_sage_fec__invoices: write-off documents). An entry that also posts sales, the bank, a transit account
    # or another receivable account (416 doubtful debts: still owed) is none.
    write_off_account_prefixes: tuple[str, ...] = ("654", "658", "665", "627", "671")
    # Packages other than Sage (Cegid, EBP…) may number pieces themselves (PieceRef 001031) and print the
    # invoice number only in the label: when the PieceRef matches piece_number_pattern, the printed number
    # is the first group of invoice_number_in_label in EcritureLib (None: the PieceRef always is).
    piece_number_pattern: str = r"^[0-9]+$"
    invoice_number_in_label: str | None = INVOICE_NUMBER_IN_LABEL

    @field_validator("sales_journals", "bank_journals", "opening_journals")
    @classmethod
    def _journal_codes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return each_matching(value, _JOURNAL, "journal code {!r} must be 1 to 20 letters, digits, '-' or '_'")

    @field_validator("customer_money_account_prefixes", "transit_account_prefixes", "bills_account_prefixes",
                     "cheques_account_prefixes", "write_off_account_prefixes")
    @classmethod
    def _account_prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return each_matching(value, _ACCOUNT_PREFIX, "account prefix {!r} must be 1 to 8 digits")

    @field_validator("piece_number_pattern")
    @classmethod
    def _piece_number(cls, value: str) -> str:
        return _portable_regex(value)

    @field_validator("invoice_number_in_label")
    @classmethod
    def _number_in_label(cls, value: str | None) -> str | None:
        return None if value is None else _portable_regex(value, groups=1)

    @model_validator(mode="after")
    def _opening_is_its_own_journal(self) -> FecConventions:
        shared = sorted(set(self.opening_journals) & {*self.sales_journals, *self.bank_journals})
        if shared:
            raise ValueError(f"opening_journals {shared} are also sales or bank journals: "
                             "an à-nouveaux entry carries balances forward, it is neither a sale nor a receipt")
        return self


@overridable("sage_fec/conventions.yaml")
def load_fec_conventions(path: Path) -> FecConventions:
    return load_model(FecConventions, path)


@overridable("sage_fec/customers.yaml")
def load_fec_customers_mapping(path: Path) -> CsvColumnMapping:
    return load_model(CsvColumnMapping, path)
