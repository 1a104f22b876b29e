"""SAP line-item export layouts, as data (``mappings/sap/layouts/*.yaml``).

SAP has no single export format: the same BSID/BSAD line items arrive as a
table extract with technical names, as an FBL5N list with German or English
headers, with German or US number and date formats. A layout declares the
header for each canonical field and the formats; the connector recognises a
file's layout from its header, so a new layout is a new YAML file, not code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mappings._loader import MAPPINGS_DIR, deployment_dir, load_model, overridable
from mappings.csv_export import CsvColumnMapping

LAYOUTS_DIR = MAPPINGS_DIR / "sap" / "layouts"
CUSTOMERS_PATH = MAPPINGS_DIR / "sap" / "customers.yaml"

CANONICAL_FIELDS: tuple[str, ...] = (
    "BUKRS", "KUNNR", "BELNR", "GJAHR", "BUZEI", "BLART", "BLDAT", "BUDAT", "ZFBDT",
    "ZBD1T", "ZBD2T", "ZBD3T", "WAERS", "WRBTR", "DMBTR", "SHKZG", "XBLNR", "ZUONR",
    "AUGBL", "AUGDT", "SGTXT", "NETDT",
    # optional: special G/L indicator, document status, invoice reference (document and year)
    "UMSKZ", "BSTAT", "REBZG", "REBZJ",
)
DATE_FIELDS = frozenset({"BLDAT", "BUDAT", "ZFBDT", "AUGDT", "NETDT"})

# Layout date format -> strptime pattern (the round trip through strftime rejects 31.02.).
DATE_FORMATS: dict[str, str] = {
    "dd.mm.yyyy": "%d.%m.%Y",
    "mm/dd/yyyy": "%m/%d/%Y",
    "dd/mm/yyyy": "%d/%m/%Y",
    "yyyy-mm-dd": "%Y-%m-%d",
    "yyyy.mm.dd": "%Y.%m.%d",
    "yyyy/mm/dd": "%Y/%m/%d",
    "mm-dd-yyyy": "%m-%d-%Y",
    "YYYYMMDD": "%Y%m%d",
}
# Layout number format -> (decimal separator, group separators removed before parsing).
NUMBER_FORMATS: dict[str, tuple[str, str]] = {
    "1.234,56": (",", "."),
    "1,234.56": (".", ","),
    "1 234,56": (",", " \u00a0\u202f"),
    "internal": (".", ""),
}
NumberFormat = Literal["1.234,56", "1,234.56", "1 234,56", "internal"]
DateFormat = Literal["dd.mm.yyyy", "mm/dd/yyyy", "dd/mm/yyyy", "yyyy-mm-dd", "yyyy.mm.dd", "yyyy/mm/dd", "mm-dd-yyyy", "YYYYMMDD"]


class SapLayout(BaseModel):
    """One export layout: headers per canonical field, formats and sign convention."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    # Accepted separators, the first being the layout's own (written back for workbooks). One SAP list
    # arrives both as a spreadsheet CSV (',' or ';') and as the GUI's "text with tabs" download, so a
    # layout may accept several; ``delimiter: ";"`` in the YAML is the one-item short form.
    delimiters: tuple[str, ...] = (";",)
    quote_char: str | None = '"'
    encoding: str = "utf-8-sig"
    number_format: NumberFormat
    date_format: DateFormat
    # shkzg: unsigned amounts, sign from the S/H indicator; trailing_minus: "1.234,56-";
    # leading_minus: "-1234.56". A file may carry both a sign and SHKZG; SHKZG then wins.
    sign: Literal["shkzg", "trailing_minus", "leading_minus"]
    columns: dict[str, str | tuple[str, ...]]
    # Values for fields the file does not carry (e.g. the company code of an FBL5N list).
    defaults: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _one_delimiter(cls, data: Any) -> Any:
        """``delimiter: x`` is ``delimiters: [x]``; both at once would be ambiguous."""
        if isinstance(data, dict) and "delimiter" in data:
            if "delimiters" in data:
                raise ValueError("give either delimiter or delimiters, not both")
            data = {**data, "delimiters": (data["delimiter"],)}
            del data["delimiter"]
        return data

    @field_validator("delimiters")
    @classmethod
    def _check_delimiters(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("a layout needs at least one delimiter")
        wrong = [d for d in value if len(d) != 1]
        if wrong:
            raise ValueError(f"each delimiter is one character, found {wrong}")
        if len(set(value)) != len(value):
            raise ValueError(f"delimiters repeated: {list(value)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> SapLayout:
        unknown = (set(self.columns) | set(self.defaults)) - set(CANONICAL_FIELDS)
        if unknown:
            raise ValueError(f"unknown canonical fields {sorted(unknown)}; allowed: {CANONICAL_FIELDS}")
        needed = {"KUNNR", "BELNR", "WAERS", "WRBTR"}
        missing = needed - set(self.columns)
        if missing:
            raise ValueError(f"layout {self.name!r} must map {sorted(missing)}")
        if "BUKRS" not in self.columns and "BUKRS" not in self.defaults:
            raise ValueError(f"layout {self.name!r} needs BUKRS as a column or a default")
        if self.sign == "shkzg" and "SHKZG" not in self.columns:
            raise ValueError(f"layout {self.name!r} uses sign 'shkzg' but maps no SHKZG column")
        if self.quote_char is not None and self.quote_char in self.delimiters:
            raise ValueError(f"layout {self.name!r}: the quote character {self.quote_char!r} cannot be a delimiter")
        if not ({"ZFBDT", "BLDAT", "NETDT"} & set(self.columns)):
            raise ValueError(f"layout {self.name!r} needs NETDT, ZFBDT or BLDAT to compute the due date")
        return self

    def header_names(self, field: str) -> tuple[str, ...]:
        names = self.columns.get(field, ())
        return (names,) if isinstance(names, str) else tuple(names)

    def resolve(self, header: list[str]) -> dict[str, int]:
        """Canonical field -> column index in ``header`` (case- and space-insensitive)."""
        index = {_norm(h): i for i, h in enumerate(header)}
        found: dict[str, int] = {}
        for field in self.columns:
            for name in self.header_names(field):
                if _norm(name) in index:
                    found[field] = index[_norm(name)]
                    break
        return found

    def score(self, header: list[str]) -> float:
        """Share of this layout's fields present in ``header``; 0 if a needed one is missing."""
        found = self.resolve(header)
        if not {"KUNNR", "BELNR", "WRBTR"} <= set(found):
            return 0.0
        return len(found) / len(self.columns)

    @property
    def delimiter(self) -> str:
        """The layout's own separator (the first accepted), used when writing its text."""
        return self.delimiters[0]

    @property
    def strptime_format(self) -> str:
        return DATE_FORMATS[self.date_format]

    @property
    def separators(self) -> tuple[str, str]:
        return NUMBER_FORMATS[self.number_format]


def _norm(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()


def load_layouts(directory: Path | None = None) -> tuple[SapLayout, ...]:
    """Every layout in ``directory``, sorted by file name (the order breaks score ties).

    Without a directory: the packaged layouts and the deployment's (``$LETTRAGE__MAPPINGS_DIR/sap/layouts``),
    a deployment file replacing the packaged file of the same name.
    """
    if directory is not None:
        return _load_layouts((Path(directory),))
    own = deployment_dir()
    return _load_layouts((LAYOUTS_DIR,) if own is None else (LAYOUTS_DIR, own / "sap" / "layouts"))


@lru_cache(maxsize=8)
def _load_layouts(directories: tuple[Path, ...]) -> tuple[SapLayout, ...]:
    files = {p.name: p for d in directories for p in sorted(d.glob("*.yaml"))}  # (later folders win)
    layouts = tuple(load_model(SapLayout, files[name]) for name in sorted(files))
    names = [la.name for la in layouts]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate SAP layout names in {', '.join(map(str, directories))}: {names}")
    return layouts


@overridable("sap/customers.yaml")
def load_sap_customers_mapping(path: Path) -> CsvColumnMapping:
    return load_model(CsvColumnMapping, path)
