"""mappings/providers.yaml: the shipped file validates; bad keys are refused with the file named."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings._loader import MappingError
from mappings.providers import load_provider_metadata


def test_shipped_mapping_validates() -> None:
    keys = load_provider_metadata()
    assert keys.stripe.invoice_keys[0] == "invoice_number" and "erp_customer_id" in keys.gocardless.customer_keys


def test_key_that_is_not_a_column_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text("stripe: {invoice_keys: [InvoiceNumber], customer_keys: [erp_customer_id]}\n"
                    "gocardless: {invoice_keys: [invoice_number], customer_keys: [erp_customer_id]}\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"(?s)providers.yaml.*snake_case"):
        load_provider_metadata(path)
