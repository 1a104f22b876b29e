"""A FR01-scoped reader sees FR01 only, and never a full IBAN or e-mail address."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lettrage.logging import EMAIL_RE, IBAN_RE


def _links(html: str, pattern: str) -> list[str]:
    return sorted(set(re.findall(pattern, html)))


def _reader_pages(client: Any) -> dict[str, str]:
    """Every kind of page a FR01 reader can reach, a few of each."""
    pages = {u: client.get(u).text for u in ("/e/FR01", "/queue", "/e/FR01/invoices")}
    queue = pages["/queue"]
    for url in _links(queue, r'href="(/e/FR01/(?:match|exception)/\w+)"')[:8]:
        pages[url] = client.get(url).text
    for url in _links(pages["/e/FR01/invoices"], r'href="(/e/FR01/(?:customer|invoice)/[^"]+)"')[:12]:
        pages[url] = client.get(url).text
    return pages


def test_reader_lands_on_their_entity_and_sees_no_other(client_for: Any) -> None:
    client = client_for("fr_reader")
    home = client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/e/FR01"
    for url, html in _reader_pages(client).items():
        assert "DE01" not in html, f"{url} shows DE01"


def test_reader_queue_has_no_row_of_another_entity(client_for: Any, db: Any) -> None:
    de_items = db("SELECT exception_id FROM fct_reconciliation_exception WHERE entity = 'DE01'")
    assert de_items, "the world should have DE01 exceptions"
    html = client_for("fr_reader").get("/queue").text
    assert not [x for x in de_items if x["exception_id"] in html]


@pytest.mark.parametrize("path", [
    "/e/DE01", "/e/DE01?as_of=2026-10-31", "/e/DE01/invoices", "/queue?entity=DE01",
    "/e/DE01/invoice/{de_invoice}", "/e/DE01/customer/{de_customer}", "/e/DE01/exception/{de_exception}",
], ids=["dashboard", "as-of", "rows", "queue", "invoice", "customer", "exception"])
def test_reader_gets_404_on_another_entity(client_for: Any, db: Any, path: str) -> None:
    ids = {
        "de_invoice": db("SELECT invoice_id FROM fct_invoice WHERE entity = 'DE01' LIMIT 1")[0]["invoice_id"],
        "de_customer": db("SELECT customer_id FROM dim_customer WHERE entity = 'DE01' LIMIT 1")[0]["customer_id"],
        "de_exception": db("SELECT exception_id FROM fct_reconciliation_exception WHERE entity = 'DE01' LIMIT 1")[0][
            "exception_id"],
    }
    response = client_for("fr_reader").get(path.format(**ids))
    assert response.status_code == 404
    assert "DE01" not in response.text
    assert client_for("rev").get(path.format(**ids)).status_code == 200  # the same URL exists for a DE01 user


def test_reader_pages_show_no_full_iban_or_email(client_for: Any, db: Any) -> None:
    pages = _reader_pages(client_for("fr_reader"))
    assert any("/customer/" in u for u in pages) and any("/match/" in u or "/exception/" in u for u in pages)
    for url, html in pages.items():
        assert not IBAN_RE.findall(html), f"{url} shows an IBAN: {IBAN_RE.findall(html)[:3]}"
        assert not EMAIL_RE.findall(html), f"{url} shows an e-mail address: {EMAIL_RE.findall(html)[:3]}"
    emails = [r["email"] for r in db("SELECT email FROM dim_customer WHERE entity = 'FR01' AND email IS NOT NULL")]
    assert emails, "the world should have customer e-mails to hide"


def test_credit_controller_is_entitled_to_the_email_but_not_the_iban(client_for: Any, db: Any) -> None:
    row = db("SELECT customer_id, email, iban FROM dim_customer WHERE entity = 'FR01' AND email IS NOT NULL "
             "AND iban IS NOT NULL LIMIT 1")[0]
    html = client_for("fr_cc").get(f"/e/FR01/customer/{row['customer_id']}").text
    assert row["email"] in html
    assert row["iban"].replace(" ", "") not in html.replace(" ", "")
    assert row["iban"].replace(" ", "")[-4:] in html


def test_dashboard_figures_link_to_their_rows(client_for: Any) -> None:
    client = client_for("fr_reader")
    html = client.get("/e/FR01").text
    for link in ("/e/FR01/invoices?status=overdue", "/e/FR01/invoices?bucket=over_90", "/queue?entity=FR01&amp;kind="):
        assert link in html
    assert "<svg" in html and "<rect" in html  # the stacked aged balance
    overdue = client.get("/e/FR01/invoices?status=overdue").text
    assert "overdue" in overdue and "/e/FR01/invoice/" in overdue


def test_as_of_picker_shows_a_past_month_end(client_for: Any, db: Any) -> None:
    month = db("SELECT max(month_end) AS m FROM mart_dso WHERE entity = 'FR01' AND month_end < DATE '2026-11-01'")[0]["m"]
    html = client_for("fr_reader").get(f"/e/FR01?as_of={month}").text
    assert f"at month end {month}" in html
    assert client_for("fr_reader").get("/e/FR01?as_of=1999-01-31").status_code == 404
    assert client_for("fr_reader").get("/e/FR01?as_of=garbage").status_code == 400
