"""Dispute, promise to pay and comment from the invoice page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.integration.desk.conftest import csrf_of


@pytest.fixture
def open_invoice(db: Any, desk_world: Any) -> str:
    rows = db("SELECT invoice_id FROM fct_invoice WHERE entity = 'FR01' AND doc_type = 'invoice' "
              "AND status = 'overdue' AND NOT coalesce(disputed, FALSE) AND invoice_id <> :s "
              "ORDER BY due_date DESC, invoice_id", {"s": desk_world["suggestion"]["invoice_id"]})
    return str(rows[0]["invoice_id"])


def test_credit_controller_records_a_dispute_assigned_to_a_department(client_for: Any, db: Any,
                                                                       open_invoice: str) -> None:
    client = client_for("fr_cc")
    page = client.get(f"/e/FR01/invoice/{open_invoice}")
    assert 'name="department"' in page.text
    done = client.post(f"/e/FR01/invoice/{open_invoice}/dispute",
                       data={"csrf": csrf_of(page.text), "reason": "goods damaged", "department": "logistics"})
    assert done.status_code == 200 and "Recorded: dispute" in done.text
    row = db("SELECT actor, reason, after_json FROM decision WHERE kind = 'dispute' AND invoice_id = :i",
             {"i": open_invoice})[0]
    assert row["actor"] == "fr_cc" and row["reason"] == "goods damaged" and '"department": "logistics"' in row["after_json"]
    inv = db("SELECT status, disputed FROM fct_invoice WHERE entity = 'FR01' AND invoice_id = :i", {"i": open_invoice})[0]
    assert inv["disputed"] is True


def test_unknown_department_is_refused(client_for: Any, open_invoice: str) -> None:
    client = client_for("fr_cc")
    token = csrf_of(client.get(f"/e/FR01/invoice/{open_invoice}").text)
    response = client.post(f"/e/FR01/invoice/{open_invoice}/dispute",
                           data={"csrf": token, "reason": "x", "department": "marketing"})
    assert response.status_code == 400 and "unknown department" in response.text


def test_promise_to_pay_and_comment_appear_in_the_story(client_for: Any, db: Any, open_invoice: str) -> None:
    client = client_for("fr_cc")
    token = csrf_of(client.get(f"/e/FR01/invoice/{open_invoice}").text)
    promised = date.today() + timedelta(days=10)
    ok = client.post(f"/e/FR01/invoice/{open_invoice}/promise",
                     data={"csrf": token, "promised_on": promised.isoformat(), "reason": "CFO called"})
    assert ok.status_code == 200
    row = db("SELECT after_json FROM decision WHERE kind = 'promise_to_pay' AND invoice_id = :i", {"i": open_invoice})
    assert promised.isoformat() in row[0]["after_json"]
    page = client.post(f"/e/FR01/invoice/{open_invoice}/comment", data={"csrf": token, "body": "called back <b>Tuesday</b>"})
    assert "called back &lt;b&gt;Tuesday&lt;/b&gt;" in page.text  # escaped
    assert "promise_to_pay by fr_cc" in page.text  # the invoice story (warehouse.access.audit) tells it


def test_reader_cannot_comment_and_sees_no_action_form(client_for: Any, open_invoice: str) -> None:
    client = client_for("fr_reader")
    page = client.get(f"/e/FR01/invoice/{open_invoice}")
    assert page.status_code == 200 and "<textarea" not in page.text and 'name="department"' not in page.text
    response = client.post(f"/e/FR01/invoice/{open_invoice}/comment",
                           data={"csrf": csrf_of(page.text), "body": "hello"}, follow_redirects=False)
    assert response.status_code == 403


def test_reviewer_may_comment_but_not_dispute(client_for: Any, open_invoice: str) -> None:
    client = client_for("rev")
    token = csrf_of(client.get(f"/e/FR01/invoice/{open_invoice}").text)
    assert client.post(f"/e/FR01/invoice/{open_invoice}/dispute",
                       data={"csrf": token, "reason": "x", "department": "sales"}).status_code == 403
    assert client.post(f"/e/FR01/invoice/{open_invoice}/comment", data={"csrf": token, "body": "looked"}).status_code == 200
