"""Factoring contracts as data (``mappings/factoring.yaml``).

Why data: each factor (*affactureur*) signs its own contract — which debtors it
buys, how old an invoice may be, how much of the book one debtor may weigh, the
advance rate and fees, the *bordereau* layout and where it is dropped. Finance
renegotiates these terms without a code change; ``actions/factoring`` reads the
validated values. This module only validates.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings._loader import MAPPINGS_DIR, load_model, only_known, overridable

DEFAULT_PATH = MAPPINGS_DIR / "factoring.yaml"
SEGMENTS: tuple[str, ...] = ("punctual", "occasional_late", "chronic_late", "at_risk")
FILE_FORMATS: tuple[str, ...] = ("csv", "xml", "json")
# Fields a bordereau line can carry (the CSV columns pick from these, in the factor's order).
LINE_FIELDS: tuple[str, ...] = (
    "line_no", "batch_id", "contract_id", "entity", "invoice_id", "invoice_number", "customer_id",
    "customer_name", "customer_vat_id", "customer_siren", "customer_country", "issue_date", "due_date",
    "currency", "amount", "advance_amount", "reserve_amount", "commission", "financing_fee", "net_advance",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Counterparty(_Strict):
    """How the factor shows up on our bank statements (fct_bank_line)."""

    names: tuple[str, ...] = ()
    ibans: tuple[str, ...] = ()
    # Remittance words that tell an advance from a reserve release (upper-case match).
    advance_keywords: tuple[str, ...] = ("AVANCE", "ADVANCE", "FINANCEMENT")
    reserve_keywords: tuple[str, ...] = ("RESERVE", "RÉSERVE", "LIBERATION", "RELEASE")
    # Words of a debit the factor takes for itself (its commission, financing interest, charges), as
    # opposed to our transfer of a customer's payment on to it (which names the invoice).
    fee_keywords: tuple[str, ...] = ("COMMISSION", "FRAIS", "INTERETS", "INTÉRÊTS", "AGIOS", "FEE", "FEES",
                                     "INTEREST", "CHARGES")

    @model_validator(mode="after")
    def _identifiable(self) -> Counterparty:
        if not self.names and not self.ibans:
            raise ValueError("counterparty needs at least one name or IBAN to recognise the factor's bank lines")
        return self


class Target(_Strict):
    """Which receivables *we* choose to hand over (any rule that holds selects the customer).

    Empty target = every customer the factor accepts.
    """

    segments: tuple[str, ...] = ()
    min_payment_terms_days: int | None = Field(default=None, ge=0)

    @field_validator("segments")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return only_known(v, SEGMENTS, "segments")


class Exclusions(_Strict):
    """Invoices the factor refuses whatever the debtor (true = excluded)."""

    disputed: bool = True
    credit_noted: bool = True
    already_assigned: bool = True  # always enforced; kept visible so the YAML reads as the contract does
    partially_paid: bool = True
    intra_group: bool = True
    # money on its way to it (a transfer naming it received, a direct debit submitted): it is being paid,
    # and reminders say so too (actions/in_transit.py)
    money_in_transit: bool = True

    @field_validator("already_assigned")
    @classmethod
    def _never_twice(cls, v: bool) -> bool:
        if not v:
            raise ValueError("already_assigned cannot be false: an invoice is never assigned twice")
        return v


class IntraGroup(_Strict):
    """Customers that belong to our own group (never factorable)."""

    customer_ids: tuple[str, ...] = ()
    vat_ids: tuple[str, ...] = ()
    name_contains: tuple[str, ...] = ()


class Eligibility(_Strict):
    """The factor's acceptance criteria, from the contract's *conditions particulières*."""

    countries: tuple[str, ...] = ()            # empty = any country
    include_customers: tuple[str, ...] = ()    # empty = any customer
    exclude_customers: tuple[str, ...] = ()
    segments: tuple[str, ...] = SEGMENTS       # segments the factor accepts
    min_score: Decimal | None = Field(default=None, ge=0, le=100)
    allow_unscored: bool = True                # a customer without a score yet
    max_invoice_age_days: int = Field(ge=0)    # since issue date, as of the run
    max_days_past_due: int = Field(default=0, ge=0)
    min_amount: Decimal = Field(default=Decimal("0"), ge=0)
    max_amount: Decimal | None = Field(default=None, gt=0)
    # One debtor may weigh at most this share of the assigned book (outstanding + this batch);
    # below concentration_floor a debtor is always within the limit (a small book is not "concentrated").
    concentration_limit: Decimal = Field(gt=0, le=1)
    concentration_floor: Decimal = Field(default=Decimal("0"), ge=0)
    exclusions: Exclusions = Exclusions()
    intra_group: IntraGroup = IntraGroup()

    @field_validator("segments")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return only_known(v, SEGMENTS, "segments")

    @field_validator("countries")
    @classmethod
    def _upper(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(c.upper() for c in v)

    @model_validator(mode="after")
    def _amounts(self) -> Eligibility:
        if self.max_amount is not None and self.max_amount < self.min_amount:
            raise ValueError("max_amount must not be below min_amount")
        return self


class Pricing(_Strict):
    """What the factor advances and charges. Rates are fractions (0.85 = 85 %)."""

    advance_rate: Decimal = Field(gt=0, le=1)
    commission_rate: Decimal = Field(ge=0, lt=1)        # on the face value of each invoice
    financing_rate: Decimal = Field(ge=0, lt=1)         # annual, on the advance, until the due date
    day_count: Literal[360, 365] = 360
    financing_extra_days: int = Field(default=0, ge=0)  # the factor's collection delay added to the due date
    # how the factor rounds each line's advance, commission and interest to the cent: commercial rounding
    # (half_up, a half cent away from zero) as French factors and banks compute, or half_even
    rounding: Literal["half_up", "half_even"] = "half_up"


class CsvFormat(_Strict):
    delimiter: str = Field(default=";", min_length=1, max_length=1)
    decimal_sep: Literal[".", ","] = ","
    date_format: str = "%d/%m/%Y"
    encoding: str = "utf-8"
    header: bool = True
    columns: tuple[str, ...] = ("line_no", "invoice_number", "customer_id", "customer_name", "customer_vat_id",
                                "issue_date", "due_date", "currency", "amount")

    @field_validator("columns")
    @classmethod
    def _known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return only_known(v, LINE_FIELDS, "bordereau columns")


class FileSpec(_Strict):
    """The bordereau the factor reads: one data file per format, plus a manifest."""

    formats: tuple[Literal["csv", "xml", "json"], ...] = ("csv", "xml")
    # {contract_id}, {batch_id}, {entity}, {as_of:%Y%m%d} and {ext} are filled in.
    name_pattern: str = "BORDEREAU_{contract_id}_{batch_id}.{ext}"
    manifest_pattern: str = "BORDEREAU_{contract_id}_{batch_id}.manifest.json"
    csv: CsvFormat = CsvFormat()

    @model_validator(mode="after")
    def _not_empty(self) -> FileSpec:
        if not self.formats:
            raise ValueError("file.formats needs at least one of csv, xml, json")
        if "{batch_id}" not in self.name_pattern or "{ext}" not in self.name_pattern:
            raise ValueError("file.name_pattern must contain {batch_id} and {ext}")
        if "{batch_id}" not in self.manifest_pattern:
            raise ValueError("file.manifest_pattern must contain {batch_id}")
        return self


class SftpDelivery(_Strict):
    method: Literal["sftp"] = "sftp"
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    remote_dir: str = "/"
    # Secrets are never in the YAML: name the environment variables that hold them.
    password_env: str | None = None
    private_key_env: str | None = None          # path of a private key file
    known_hosts_env: str | None = None          # path of a known_hosts file; unset = no host-key check
    temp_prefix: str = "."
    temp_suffix: str = ".part"
    timeout_seconds: float = Field(default=30, gt=0)


class HttpsDelivery(_Strict):
    method: Literal["https"] = "https"
    url: str                                    # base URL; files are PUT to <url>/<name>
    token_env: str | None = None                # bearer token
    timeout_seconds: float = Field(default=30, gt=0)


class FactorContract(_Strict):
    """One factoring contract of one factor, for some of our entities."""

    factor: str = Field(pattern=r"^[a-z0-9_]+$")
    name: str
    contract_id: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    entities: tuple[str, ...] = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    counterparty: Counterparty
    target: Target = Target()
    eligibility: Eligibility
    pricing: Pricing
    file: FileSpec = FileSpec()
    delivery: SftpDelivery | HttpsDelivery = Field(discriminator="method")


class FactoringMapping(_Strict):
    contracts: tuple[FactorContract, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> FactoringMapping:
        seen = [c.contract_id for c in self.contracts]
        dupes = sorted({c for c in seen if seen.count(c) > 1})
        if dupes:
            raise ValueError(f"duplicate contract_id {dupes}")
        return self

    def contract(self, contract_id: str | None = None, *, entity: str | None = None) -> FactorContract:
        """The contract with this id, or the only one covering ``entity``; raises KeyError naming what exists."""
        for c in self.contracts:
            if (contract_id is None or c.contract_id == contract_id) and (entity is None or entity in c.entities):
                return c
        known = ", ".join(f"{c.contract_id} ({'/'.join(c.entities)})" for c in self.contracts)
        raise KeyError(f"no factoring contract {contract_id or ''} for entity {entity or 'any'}; known: {known}")


@overridable("factoring.yaml")
def load_factoring(path: Path) -> FactoringMapping:
    return load_model(FactoringMapping, path)
