"""Provider metadata keys as data (``mappings/providers.yaml``).

Why data: every merchant names its Stripe and GoCardless metadata its own way
(``invoice_number``, ``invoice``, ``InvoiceNo`` ...). The staging SQL reads the keys
listed here that the loaded payments actually carry; a new name is one line of YAML.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mappings._loader import MAPPINGS_DIR, each_matching, load_model, overridable

DEFAULT_PATH = MAPPINGS_DIR / "providers.yaml"
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class ProviderKeys(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    invoice_keys: tuple[str, ...] = Field(min_length=1)
    customer_keys: tuple[str, ...] = Field(min_length=1)

    @field_validator("invoice_keys", "customer_keys")
    @classmethod
    def _snake_case(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return each_matching(value, _KEY, "metadata key {!r} must be snake_case, as dlt names the column")


class ProviderMetadata(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stripe: ProviderKeys
    gocardless: ProviderKeys


@overridable("providers.yaml")
def load_provider_metadata(path: Path) -> ProviderMetadata:
    return load_model(ProviderMetadata, path)
