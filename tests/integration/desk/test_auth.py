"""Sign-in, cookies, CSRF and throttling of the desk."""

from __future__ import annotations

from typing import Any

from desk.settings import COOKIE_NAME
from tests.integration.desk.conftest import PASSWORD, csrf_of, sign_in


def _set_cookie(response: Any) -> str:
    headers = [v for k, v in response.headers.multi_items() if k.lower() == "set-cookie"]
    cookie = [h for h in headers if h.startswith(COOKIE_NAME + "=")]
    assert cookie, f"no session cookie in {headers}"
    return cookie[-1].lower()


def test_pages_need_a_signed_in_user(client_for: Any) -> None:
    client = client_for()
    response = client.get("/e/FR01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Fe%2FFR01")


def test_sign_in_gives_an_httponly_samesite_cookie_not_secure_over_plain_http(client_for: Any) -> None:
    response = sign_in(client_for(), "rev")
    assert response.status_code == 303
    cookie = _set_cookie(response)
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie.replace("samesite", "")


def test_cookie_is_secure_behind_a_tls_proxy(client_for: Any) -> None:
    response = client_for().get("/login", headers={"X-Forwarded-Proto": "https"})
    cookie = _set_cookie(response)
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_sign_in_over_https_gives_a_secure_cookie(client_for: Any) -> None:
    response = sign_in(client_for(base_url="https://testserver"), "rev")
    assert response.status_code == 303
    cookie = _set_cookie(response)
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_sign_in_without_csrf_token_is_refused(client_for: Any) -> None:
    client = client_for()
    client.get("/login")
    response = client.post("/login", data={"username": "rev", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/e/FR01", follow_redirects=False).status_code == 303  # still not signed in


def test_forged_session_cookie_is_ignored(client_for: Any) -> None:
    client = client_for()
    client.cookies.set(COOKIE_NAME, "eyJ1IjoicmV2In0.forgedsignature")
    assert client.get("/e/FR01", follow_redirects=False).status_code == 303


def test_wrong_password_is_refused_without_saying_which_part(client_for: Any) -> None:
    client = client_for()
    response = sign_in(client, "rev", "wrong password")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.text
    unknown = sign_in(client_for(), "nobody-here", "wrong password")
    assert unknown.status_code == 401 and "Wrong user name or password" in unknown.text


def test_five_wrong_passwords_throttle_even_the_right_one(client_for: Any, db: Any) -> None:
    client = client_for()
    codes = [sign_in(client, "victim", f"wrong-{n}").status_code for n in range(5)]
    assert codes[:4] == [401, 401, 401, 401]
    assert codes[4] == 429
    right = sign_in(client, "victim", PASSWORD)
    assert right.status_code == 429
    assert "Too many failed sign-ins" in right.text
    # the lock is on the user row, so another desk process (or address) refuses it too
    assert db("SELECT locked_until FROM desk_user WHERE username = 'victim'")[0]["locked_until"] is not None
    from starlette.testclient import TestClient

    from desk import DeskSettings, create_app

    other = TestClient(create_app(DeskSettings(warehouse=client.app.state.desk.settings.warehouse, secret="y" * 32)))
    assert sign_in(other, "victim", PASSWORD).status_code == 429


def test_sign_out_needs_csrf_and_ends_the_session(client_for: Any) -> None:
    client = client_for("rev")
    page = client.get("/queue")
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_sso_header_is_ignored_unless_configured(desk_world: dict[str, Any], client_for: Any) -> None:
    from starlette.testclient import TestClient

    from desk import DeskSettings, create_app

    plain = client_for()
    assert plain.get("/queue", headers={"X-Remote-User": "admin"}, follow_redirects=False).status_code == 303
    sso = TestClient(create_app(DeskSettings(warehouse=desk_world["config"], secret="z" * 32,
                                             sso_header="X-Remote-User")))
    page = sso.get("/queue", headers={"X-Remote-User": "fr_reader"})
    assert page.status_code == 200 and "fr_reader" in page.text
    assert sso.get("/queue", headers={"X-Remote-User": "unknown"}, follow_redirects=False).status_code == 303


def test_admin_page_manages_users_with_an_audit_trail(client_for: Any, db: Any) -> None:
    assert client_for("rev").get("/admin/users").status_code == 403
    admin = client_for("admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and "fr_reader" in page.text
    saved = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "username": "newbie", "role": "reader",
                                             "entities": "FR01", "password": "a long password"})
    assert saved.status_code == 200 and "Saved newbie" in saved.text
    assert sign_in(client_for(), "newbie", "a long password").status_code == 303
    changed = admin.post("/admin/users", data={"csrf": csrf_of(saved.text), "username": "newbie",
                                               "role": "reviewer", "entities": "FR01,DE01", "password": ""})
    assert changed.status_code == 200
    assert sign_in(client_for(), "newbie", "a long password").status_code == 303  # blank kept the password
    trail = db("SELECT actor, action, target FROM desk_audit WHERE target = 'newbie' ORDER BY created_at")
    assert [(t["actor"], t["action"]) for t in trail] == [("admin", "add_user"), ("admin", "update_user")]
    assert admin.post("/admin/users", data={"username": "x", "role": "admin", "entities": "*"}).status_code == 403


def test_sign_out_ends_every_copy_of_the_session(client_for: Any) -> None:
    """A copy of the session cookie (a stolen one) stops working when its user signs out, and a password reset ends
    the sessions signed in with the old one; signing in again works. Before, a copy stayed valid until its expiry."""
    from starlette.testclient import TestClient

    reader = client_for("fr_reader")
    page = reader.get("/queue")
    copy = TestClient(reader.app, cookies={COOKIE_NAME: reader.cookies.get(COOKIE_NAME)})
    assert copy.get("/queue", follow_redirects=False).status_code == 200
    assert reader.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False).status_code == 303
    assert copy.get("/queue", follow_redirects=False).status_code == 303
    assert client_for("fr_reader").get("/queue").status_code == 200

    admin = client_for("admin")
    form = {"csrf": csrf_of(admin.get("/admin/users").text), "username": "resetme", "role": "reviewer",
            "entities": "FR01", "password": PASSWORD}
    assert admin.post("/admin/users", data=form).status_code == 200
    signed_in = client_for("resetme")
    assert signed_in.get("/queue", follow_redirects=False).status_code == 200
    assert admin.post("/admin/users", data={**form, "password": "a new long password"}).status_code == 200
    assert signed_in.get("/queue", follow_redirects=False).status_code == 303
    assert sign_in(client_for(), "resetme", "a new long password").status_code == 303


def test_an_admin_of_some_entities_manages_users_within_them_only(client_for: Any, db: Any) -> None:
    """An admin of DE01 lists, creates and changes users of DE01, never gives itself or anybody "*" or FR01, and
    does not see FR01's users or their history. Before, it could give itself every entity and act on FR01."""
    admin = client_for("admin")
    page = admin.get("/admin/users")
    made = admin.post("/admin/users", data={"csrf": csrf_of(page.text), "username": "de_admin", "role": "admin",
                                            "entities": "DE01", "password": PASSWORD})
    assert made.status_code == 200
    de_admin = client_for("de_admin")
    listed = de_admin.get("/admin/users")
    assert listed.status_code == 200 and "de_admin" in listed.text
    assert "fr_reader" not in listed.text and "victim" not in listed.text and "fr_cc" not in listed.text
    csrf = csrf_of(listed.text)
    refused = [de_admin.post("/admin/users", data={"csrf": csrf, "username": name, "role": role, "entities": scope,
                                                   "password": ""}, follow_redirects=False).status_code
               for name, role, scope in (("de_admin", "admin", "*"), ("de_admin", "admin", "DE01,FR01"),
                                         ("escal", "admin", "FR01"), ("fr_reader", "reader", "DE01"))]
    assert refused == [403, 403, 403, 403]
    allowed = de_admin.post("/admin/users", data={"csrf": csrf, "username": "de_rev", "role": "reviewer",
                                                  "entities": "DE01", "password": PASSWORD})
    assert allowed.status_code == 200 and "Saved de_rev" in allowed.text
    scopes = {r["username"]: r["entities"] for r in db("SELECT username, entities FROM desk_user "
                                                        "WHERE username IN ('de_admin', 'escal', 'fr_reader', 'de_rev')")}
    assert scopes == {"de_admin": "DE01", "fr_reader": "FR01", "de_rev": "DE01"}
    assert client_for("de_admin").get("/e/FR01", follow_redirects=False).status_code == 404
