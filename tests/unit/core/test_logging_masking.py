"""IBANs, e-mails and registered secrets never reach a log line in clear."""

from __future__ import annotations

import logging

import pytest

from lettrage.logging import MaskingFilter, mask_text, register_secret


@pytest.mark.parametrize(
    ("text", "must_not_contain", "must_contain"),
    [
        ("payer FR7630006000011234567890189 paid", "FR7630006000011234567890189", "0189"),
        ("payer FR76 3000 6000 0112 3456 7890 189 paid", "3000 6000", "0189"),
        ("mail compta@acme.example now", "compta@acme.example", "mple"),
    ],
    ids=["iban-compact", "iban-spaced", "email"],
)
def test_mask_text(text: str, must_not_contain: str, must_contain: str) -> None:
    masked = mask_text(text)
    assert must_not_contain not in masked
    assert must_contain in masked


def test_registered_secret_is_masked_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("sk_live_verysecretvalue123")
    logger = logging.getLogger("lettrage.test.masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="lettrage.test.masking"):
        logger.info("calling stripe with %s", "sk_live_verysecretvalue123")
    assert "sk_live_verysecretvalue123" not in caplog.text
    assert "***" in caplog.text


def test_a_b1_company_database_is_named_and_its_password_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SAP Business One company database is read with the credentials but is no credential: a refused login
    names it (the docs promise it; a blind check read "refused for company '***'"), the password stays masked."""
    from connectors.registry import secret

    monkeypatch.setenv("SOURCES__SAP_B1__ES07__COMPANY_DB", "SBO_IBERIA_PROD")
    monkeypatch.setenv("SOURCES__SAP_B1__ES07__PASSWORD", "s3cret-b1-pass")
    company = secret("sap_b1", "ES07", "company_db", masked=False)
    password = secret("sap_b1", "ES07", "password")
    text = mask_text(f"login refused for company {company!r} with password {password}")
    assert "SBO_IBERIA_PROD" in text and "s3cret-b1-pass" not in text
