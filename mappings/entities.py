"""The legal entities (``mappings/entities.yaml``) and how sources name them.

Files never say ``FR01``: SAP writes a company code, a FEC is named after the
SIREN, a bank statement carries an IBAN. This list is the one place that turns
those into entity codes, so adding an entity is a data change.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings._loader import DEPLOYMENT_DIR_ENV, MAPPINGS_DIR, load_model, mapping_file, overridable

DEFAULT_PATH = MAPPINGS_DIR / "entities.yaml"


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z0-9_]{2,12}$")
    name: str
    country: str = Field(pattern=r"^[A-Z]{2}$")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    erp: Literal["sage_fec", "sap_export", "sage_accounting", "netsuite", "sap_b1"]  # the source holding its books
    sap_company_code: str | None = None
    fec_siren: str | None = Field(default=None, pattern=r"^\d{9}$")
    bank_ibans: tuple[str, ...] = ()
    # the last day of its fiscal year, MM-DD: a FEC numbers its entries anew each year, so an entry is
    # known by its fiscal year as much as by its journal and number
    fiscal_year_end: str = "12-31"

    @field_validator("fiscal_year_end")
    @classmethod
    def _month_day(cls, v: str) -> str:
        try:
            date.fromisoformat(f"2001-{v}")  # (not a leap year: a year cannot end on 29 February)
        except ValueError as exc:
            raise ValueError(f"fiscal_year_end must be a day of the year as MM-DD, found {v!r}") from exc
        return v

    def closing_date(self, day: date) -> date:
        """The last day of the fiscal year ``day`` belongs to."""
        month, dom = (int(x) for x in self.fiscal_year_end.split("-"))
        end = date(day.year, month, dom)
        return end if day <= end else date(day.year + 1, month, dom)

    @field_validator("bank_ibans")
    @classmethod
    def _compact(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(i.replace(" ", "").upper() for i in v)


class Entities(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    entities: tuple[Entity, ...]

    def codes(self) -> set[str]:
        return {e.code for e in self.entities}

    def by_company_code(self) -> dict[str, str]:
        return {e.sap_company_code: e.code for e in self.entities if e.sap_company_code}

    def by_siren(self) -> dict[str, str]:
        return {e.fec_siren: e.code for e in self.entities if e.fec_siren}

    def get(self, code: str) -> Entity | None:
        return next((e for e in self.entities if e.code == code), None)

    def by_iban(self) -> dict[str, str]:
        return {iban: e.code for e in self.entities for iban in e.bank_ibans}


def entities_file() -> str:
    """Where the entity list is read from, for messages that ask to add an entity: the deployment's
    own list when it has one, else the packaged file and how to keep one outside the install."""
    path = mapping_file("entities.yaml")
    if path.parent != MAPPINGS_DIR:
        return str(path)
    return f"{path} (or your own list: ${DEPLOYMENT_DIR_ENV}/entities.yaml)"


@overridable("entities.yaml")
def load_entities(path: Path) -> Entities:
    return load_model(Entities, path)
