"""The new forms on the sample world: write-off request, split, mark for the ERP, "assigned to me", forecast chart."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.integration.desk.conftest import csrf_of


@pytest.fixture
def spare_invoices(db: Any, desk_world: Any) -> list[dict[str, Any]]:
    """Overdue FR01 invoices no other desk test touches (the oldest due dates; the others take the newest)."""
    planted = [desk_world["suggestion"]["invoice_id"], desk_world["browser_suggestion"]["invoice_id"]]
    return db("SELECT invoice_id, invoice_number, amount_open FROM fct_invoice WHERE entity = 'FR01' "
              "AND doc_type = 'invoice' AND status = 'overdue' AND NOT coalesce(disputed, FALSE) "
              "AND invoice_id NOT IN (:a, :b) ORDER BY due_date, invoice_id LIMIT 3",
              {"a": planted[0], "b": planted[1]})


def test_credit_controller_requests_a_write_off_and_the_invoice_shows_it(client_for: Any, db: Any,
                                                                          spare_invoices: list[dict[str, Any]]) -> None:
    inv = spare_invoices[0]
    client = client_for("fr_cc")
    page = client.get(f"/e/FR01/invoice/{inv['invoice_id']}")
    assert "Request a write-off" in page.text
    done = client.post(f"/e/FR01/invoice/{inv['invoice_id']}/writeoff",
                       data={"csrf": csrf_of(page.text), "reason": "customer insolvent", "amount": ""})
    assert done.status_code == 200 and 'id="write-off-pending"' in done.text
    row = db("SELECT actor, amount, reason FROM decision WHERE kind = 'write_off_request' AND invoice_id = :i",
             {"i": inv["invoice_id"]})
    assert [(r["actor"], r["amount"], r["reason"]) for r in row] == [("fr_cc", inv["amount_open"], "customer insolvent")]


def test_a_reviewer_may_not_request_a_write_off_nor_a_reader_split_or_mark(client_for: Any, desk_world: Any,
                                                                            spare_invoices: list[dict[str, Any]]) -> None:
    inv = spare_invoices[1]
    rev = client_for("rev")
    token = csrf_of(rev.get(f"/e/FR01/invoice/{inv['invoice_id']}").text)
    refused = rev.post(f"/e/FR01/invoice/{inv['invoice_id']}/writeoff", data={"csrf": token, "reason": "x"})
    assert refused.status_code == 403
    reader = client_for("fr_reader")
    page = reader.get(f"/e/FR01/match/{desk_world['suggestion']['match_id']}")
    assert page.status_code == 200 and "Apply split" not in page.text and "Mark for the ERP" not in page.text
    token = csrf_of(page.text)
    pid = desk_world["suggestion"]["payment_id"]
    assert reader.post(f"/e/FR01/payment/{pid}/split", data={"csrf": token, f"amount:{inv['invoice_id']}": "1"}
                       ).status_code == 403
    assert reader.post("/e/FR01/erp", data={"csrf": token, "payment_id": pid, "reason": "x"}).status_code == 403
    assert reader.post("/e/DE01/erp", data={"csrf": token, "payment_id": pid, "reason": "x"}).status_code == 404
    # the ERP list of one entity, as every entity URL: out of scope is 404, in scope is that entity's list
    assert reader.get("/erp?entity=DE01").status_code == 404 and reader.get("/erp.csv?entity=DE01").status_code == 404
    assert reader.get("/erp?entity=FR01").status_code == 200


def test_split_form_refuses_more_than_the_payment(client_for: Any, desk_world: Any) -> None:
    s = desk_world["browser_suggestion"]
    rev = client_for("rev")
    page = rev.get(f"/e/FR01/match/{s['match_id']}")
    assert "Apply split" in page.text
    options = re.findall(r'name="amount:([^"]+)"', page.text)
    assert options, "the split form offers the payer's open invoices"
    too_much = s["amount"] + 1  # more than the payment, whatever the browser test already applied of it
    response = rev.post(f"/e/FR01/payment/{s['payment_id']}/split",
                        data={"csrf": csrf_of(page.text), f"amount:{options[0]}": str(too_much)})
    assert response.status_code == 400 and "more than" in response.text


def test_dispute_assigned_to_a_person_shows_in_their_queue(client_for: Any, spare_invoices: list[dict[str, Any]]
                                                           ) -> None:
    inv = spare_invoices[2]
    cc = client_for("fr_cc")
    page = cc.get(f"/e/FR01/invoice/{inv['invoice_id']}")
    assert '<option>rev</option>' in page.text
    done = cc.post(f"/e/FR01/invoice/{inv['invoice_id']}/dispute",
                   data={"csrf": csrf_of(page.text), "reason": "wrong quantity", "department": "logistics",
                         "assignee": "rev"})
    assert done.status_code == 200 and 'id="assigned"' in done.text
    mine = client_for("rev").get("/queue?mine=1")
    assert mine.status_code == 200 and inv["invoice_number"] in mine.text and "wrong quantity" in mine.text
    assert inv["invoice_number"] not in client_for("admin").get("/queue?mine=1").text


def test_mark_for_the_erp_lists_and_exports(client_for: Any, desk_world: Any) -> None:
    rev = client_for("rev")
    pid = desk_world["suggestion"]["payment_id"]
    page = rev.get(f"/e/FR01/match/{desk_world['suggestion']['match_id']}")
    done = rev.post("/e/FR01/erp", data={"csrf": csrf_of(page.text), "payment_id": pid,
                                         "reason": "payer booked on the wrong account"})
    assert done.status_code == 200 and "payer booked on the wrong account" in done.text
    csv = rev.get("/erp.csv")
    assert csv.status_code == 200 and "payer booked on the wrong account" in csv.text and pid in csv.text
    assert "payer booked on the wrong account" not in client_for("fr_reader").get("/queue").text


def test_dashboard_shows_forecast_versus_actual(client_for: Any) -> None:
    page = client_for("rev").get("/e/FR01")
    assert page.status_code == 200
    assert "Forecast versus actual" in page.text and 'id="forecast-actual"' in page.text


def test_queue_and_invoice_lists_come_a_page_at_a_time(client_for: Any) -> None:
    rev = client_for("rev")
    first = rev.get("/e/FR01/invoices")
    assert first.status_code == 200 and first.text.count('href="/e/FR01/invoice/') <= 200
    if 'rel="next"' in first.text:  # the sample world has more open items than a page
        second = rev.get("/e/FR01/invoices?page=1")
        assert second.status_code == 200 and 'rel="prev"' in second.text
        assert set(re.findall(r'href="/e/FR01/invoice/([^"]+)"', first.text)).isdisjoint(
            re.findall(r'href="/e/FR01/invoice/([^"]+)"', second.text))
    assert rev.get("/queue?page=abc").status_code == 400
    assert rev.get("/queue?page=-1").status_code == 400


def test_a_reviewer_confirms_an_automatic_match_from_its_page(client_for: Any, db: Any) -> None:
    """desk/README: "confirm / reject a match | match page | reviewer". An automatic match's page offered only the
    split; the CLI could confirm or reject it. Confirmed, it is pinned through every re-run; a reader still only
    looks."""
    auto = db("SELECT match_id FROM fct_match WHERE entity = 'DE01' AND state = 'auto' AND rule = 'exact_reference' "
              "ORDER BY match_id DESC LIMIT 1")[0]["match_id"]
    fr_auto = db("SELECT match_id FROM fct_match WHERE entity = 'FR01' AND state = 'auto' ORDER BY match_id LIMIT 1")
    looked = client_for("fr_reader").get(f"/e/FR01/match/{fr_auto[0]['match_id']}")
    assert looked.status_code == 200 and 'value="confirm"' not in looked.text and "can look but not decide" in looked.text
    rev = client_for("rev")
    page = rev.get(f"/e/DE01/match/{auto}")
    assert page.status_code == 200 and 'value="confirm"' in page.text and 'value="reject"' in page.text
    done = rev.post(f"/e/DE01/match/{auto}", data={"csrf": csrf_of(page.text), "verdict": "confirm", "reason": ""})
    assert done.status_code == 200 and "Recorded: confirmed" in done.text
    assert db("SELECT kind, actor FROM decision WHERE match_id = :m", {"m": auto}) == [{"kind": "confirm_match", "actor": "rev"}]


def test_an_admin_settles_a_write_off_request_and_the_invoice_is_written_off(
        client_for: Any, db: Any, spare_invoices: list[dict[str, Any]]) -> None:
    """A credit controller asks, another person (an admin) approves: a ``write_off`` decision of the amount asked, and
    the reconcile the desk runs after a decision shows the invoice written off. Nothing recorded one before: the
    request held reminders off for ever and the invoice stayed overdue (an independent desk check). The one who
    asked may not approve; a credit controller may not; a declined request lets reminders take the invoice again."""
    inv, other = spare_invoices[2], spare_invoices[1]
    cc, admin = client_for("fr_cc"), client_for("admin")
    for target in (inv, other):
        page = cc.get(f"/e/FR01/invoice/{target['invoice_id']}")
        assert cc.post(f"/e/FR01/invoice/{target['invoice_id']}/writeoff",
                       data={"csrf": csrf_of(page.text), "reason": "insolvent", "amount": ""}).status_code == 200
        assert "Approve write-off" not in page.text  # (not the credit controller's)
    token = csrf_of(cc.get(f"/e/FR01/invoice/{inv['invoice_id']}").text)
    assert cc.post(f"/e/FR01/invoice/{inv['invoice_id']}/writeoff-approve", data={"csrf": token}).status_code == 403
    page = admin.get(f"/e/FR01/invoice/{inv['invoice_id']}")
    assert "Approve write-off" in page.text
    done = admin.post(f"/e/FR01/invoice/{inv['invoice_id']}/writeoff-approve",
                      data={"csrf": csrf_of(page.text), "reason": "approved: liquidation"})
    assert done.status_code == 200 and 'id="write-off-pending"' not in done.text
    decided = db("SELECT actor, amount FROM decision WHERE kind = 'write_off' AND invoice_id = :i",
                 {"i": inv["invoice_id"]})
    assert [(d["actor"], d["amount"]) for d in decided] == [("admin", inv["amount_open"])]
    after = db("SELECT amount_open, status FROM fct_invoice WHERE entity = 'FR01' AND invoice_id = :i",
               {"i": inv["invoice_id"]})[0]
    assert (after["amount_open"], after["status"]) == (0, "written_off")
    # declined: no write-off, the invoice owes what it did and is no longer held off
    page = admin.get(f"/e/FR01/invoice/{other['invoice_id']}")
    assert admin.post(f"/e/FR01/invoice/{other['invoice_id']}/writeoff-decline",
                      data={"csrf": csrf_of(page.text), "reason": "customer paying"}).status_code == 200
    kinds = [d["kind"] for d in db("SELECT kind FROM decision WHERE invoice_id = :i ORDER BY created_at",
                                   {"i": other["invoice_id"]})]
    assert kinds[-2:] == ["write_off_request", "write_off_declined"]
    still = db("SELECT amount_open, status FROM fct_invoice WHERE entity = 'FR01' AND invoice_id = :i",
               {"i": other["invoice_id"]})[0]
    assert (still["amount_open"], still["status"]) == (other["amount_open"], "overdue")
    assert 'id="write-off-pending"' not in admin.get(f"/e/FR01/invoice/{other['invoice_id']}").text


def test_the_one_who_asked_for_a_write_off_does_not_approve_it(desk_world: Any, db: Any,
                                                                spare_invoices: list[dict[str, Any]]) -> None:
    from desk.actions import request_write_off, settle_write_off
    from desk.db import session
    from lettrage.errors import DataError

    inv = spare_invoices[0]
    with session(desk_world["config"], write=True) as engine:
        request_write_off(engine, "FR01", inv["invoice_id"], reason="small balance", actor="admin",
                          amount=inv["amount_open"] / 2)
        with pytest.raises(DataError, match="requested by admin: another person settles it"):
            settle_write_off(engine, "FR01", inv["invoice_id"], approve=True, actor="admin")
        approved = settle_write_off(engine, "FR01", inv["invoice_id"], approve=True, actor="fr_cc_lead")
        with pytest.raises(DataError, match="no write-off request waiting"):
            settle_write_off(engine, "FR01", inv["invoice_id"], approve=False, actor="fr_cc_lead")
    assert approved.kind == "write_off" and approved.amount == inv["amount_open"] / 2
