"""B1 Service Layer session authentication as an ``httpx.Auth``: log in, send the cookie, re-login once on 301.

The Service Layer answers 401 with error code ``301`` when the ``B1SESSION`` has
timed out (30 minutes idle by default); this auth logs in again and replays the
request once. A refused login is not retried: it raises
:class:`~lettrage.errors.AuthenticationExpired` naming the company database.
"""

from __future__ import annotations

import json
from collections.abc import Generator

import httpx

from connectors.sap_b1 import settings
from lettrage.errors import AuthenticationExpired


def is_session_expired(response: httpx.Response) -> bool:
    if response.status_code != 401:
        return False
    try:
        return str(json.loads(response.content)["error"]["code"]) == settings.SESSION_EXPIRED_CODE
    except (ValueError, KeyError, TypeError):
        return False


class B1SessionAuth(httpx.Auth):
    requires_response_body = True

    def __init__(self, api_root: str, company_db: str, user: str, password: str, *, entity: str = "<ENTITY>") -> None:
        self.login_url = api_root.rstrip("/") + "/Login"
        self.company_db, self.user, self.password, self.entity = company_db, user, password, entity
        self.cookie: str | None = None
        self.logins = 0

    def _login_request(self) -> httpx.Request:
        return httpx.Request("POST", self.login_url, json={"CompanyDB": self.company_db, "UserName": self.user,
                                                           "Password": self.password})

    def _take(self, response: httpx.Response) -> str:
        """Keep the session cookie of a login response (and return it), or raise why there is none."""
        if response.status_code in (401, 403):
            raise AuthenticationExpired(
                f"SAP B1 login to {self.login_url} refused for company {self.company_db!r}, user {self.user!r} "
                f"(HTTP {response.status_code}: {response.text[:200]}); fix [sources.sap_b1.{self.entity}] "
                "company_db/user/password in .dlt/secrets.toml and run again")
        if response.status_code >= 400:
            response.raise_for_status()  # 429/5xx on login: transient, the caller's retry handles it
        session, route = response.cookies.get("B1SESSION"), response.cookies.get("ROUTEID")
        self.cookie = f"B1SESSION={session}" + (f"; ROUTEID={route}" if route else "")
        self.logins += 1
        return self.cookie

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.cookie is None:
            self._take((yield self._login_request()))
        assert self.cookie is not None
        request.headers["Cookie"] = self.cookie
        response = yield request
        if is_session_expired(response):
            self.cookie = None
            request.headers["Cookie"] = self._take((yield self._login_request()))
            yield request
