"""Reviewers decide suggested matches through the decision log; readers cannot."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from tests.integration.desk.conftest import csrf_of


def _encours(html: str, currency: str = "EUR") -> Decimal:
    found = re.search(rf'data-total="{currency}">([^<]+)<', html)
    assert found, "dashboard shows no total"
    return Decimal(found.group(1).replace("\u202f", "").replace(",", ""))


def test_reader_sees_no_decision_form_and_a_forged_post_is_refused(client_for: Any, desk_world: Any, db: Any) -> None:
    s = desk_world["suggestion"]
    client = client_for("fr_reader")
    page = client.get(f"/e/FR01/match/{s['match_id']}")
    assert page.status_code == 200
    assert 'name="verdict"' not in page.text and "can look but not decide" in page.text
    forged = client.post(f"/e/FR01/match/{s['match_id']}", data={"csrf": csrf_of(page.text), "verdict": "confirm"},
                         follow_redirects=False)
    assert forged.status_code == 403
    assert not db("SELECT id FROM decision WHERE match_id = :m", {"m": s["match_id"]})


def test_decision_without_csrf_token_is_refused(client_for: Any, desk_world: Any, db: Any) -> None:
    s = desk_world["suggestion"]
    client = client_for("rev")
    response = client.post(f"/e/FR01/match/{s['match_id']}", data={"verdict": "confirm"}, follow_redirects=False)
    assert response.status_code == 403
    wrong = client.post(f"/e/FR01/match/{s['match_id']}", data={"verdict": "confirm", "csrf": "x" * 43},
                        follow_redirects=False)
    assert wrong.status_code == 403
    assert not db("SELECT id FROM decision WHERE match_id = :m", {"m": s["match_id"]})


def test_reviewer_scoped_elsewhere_gets_404_on_the_decision(client_for: Any, desk_world: Any) -> None:
    from desk.db import session
    from desk.users import add_user

    with session(desk_world["config"], write=True) as engine:
        add_user(engine, "de_rev", role="reviewer", entities=["DE01"], password="another password")
    client = client_for()
    from tests.integration.desk.conftest import sign_in

    assert sign_in(client, "de_rev", "another password").status_code == 303
    token = csrf_of(client.get("/queue").text)
    response = client.post(f"/e/FR01/match/{desk_world['suggestion']['match_id']}",
                           data={"csrf": token, "verdict": "confirm"}, follow_redirects=False)
    assert response.status_code == 404


def test_reviewer_confirms_and_the_invoice_turns_paid_and_the_encours_drops(client_for: Any, desk_world: Any,
                                                                           db: Any) -> None:
    s = desk_world["suggestion"]
    client = client_for("rev")
    before = _encours(client.get("/e/FR01").text)
    queue = client.get("/queue?entity=FR01&kind=suggested").text
    assert f"/e/FR01/match/{s['match_id']}" in queue
    page = client.get(f"/e/FR01/match/{s['match_id']}")
    assert 'value="confirm"' in page.text
    assert "FR7630006000011234567890189" not in page.text and "0189" in page.text  # payer IBAN masked
    done = client.post(f"/e/FR01/match/{s['match_id']}",
                       data={"csrf": csrf_of(page.text), "verdict": "confirm", "reason": "payer is the group"},
                       follow_redirects=True)
    assert done.status_code == 200
    assert 'data-status="paid"' in done.text
    rows = db("SELECT kind, actor, reason FROM decision WHERE match_id = :m", {"m": s["match_id"]})
    assert rows == [{"kind": "confirm_match", "actor": "rev", "reason": "payer is the group"}]
    inv = db("SELECT status, amount_open FROM fct_invoice WHERE entity = 'FR01' AND invoice_id = :i",
             {"i": s["invoice_id"]})[0]
    assert inv["status"] == "paid" and inv["amount_open"] == 0
    after = _encours(client.get("/e/FR01").text)
    assert before - after == s["invoice_open"]
    assert f"/e/FR01/match/{s['match_id']}" not in client.get("/queue?entity=FR01&kind=suggested").text
