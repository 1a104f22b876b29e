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


def test_refund_words_load_upper_case_and_refuse_what_sql_would_read_as_a_wildcard(tmp_path: Path) -> None:
    assert "DEVOLUCION" in load_bank_codes().refunds.words
    path = tmp_path / "bank_codes.yaml"
    path.write_text("refunds:\n  words: [remboursement, Pago duplicado]\n", encoding="utf-8")
    assert load_bank_codes.__wrapped__(path).refunds.words == ("REMBOURSEMENT", "PAGO DUPLICADO")
    path.write_text("refunds:\n  words: ['100%']\n", encoding="utf-8")
    with pytest.raises(Exception, match="letters, digits and spaces only"):
        load_bank_codes.__wrapped__(path)
