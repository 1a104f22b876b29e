"""mappings/bank_codes.yaml: the shipped file loads; codes are ISO 20022's four capital letters."""

from __future__ import annotations

from pathlib import Path

import pytest

from mappings.bank_codes import load_bank_codes


def test_the_shipped_codes_load() -> None:
    codes = load_bank_codes().not_customer_money
    assert "LDAS" in codes.domains and "INTR" in codes.subfamilies


@pytest.mark.parametrize("bad", ["ldas", "LDA", "LD/S"])
def test_a_code_not_in_iso_form_is_refused(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "bank_codes.yaml"
    path.write_text(f"not_customer_money:\n  domains: [{bad}]\n", encoding="utf-8")
    with pytest.raises(Exception, match="four capital letters"):
        load_bank_codes.__wrapped__(path)
