"""SAP Business One Service Layer (OData v4) under ``/b1s/v2``.

- ``POST /Login`` ``{CompanyDB, UserName, Password}`` sets the ``B1SESSION`` and
  ``ROUTEID`` cookies; a session expires after ``session_timeout_s`` without use
  (B1's default is 30 minutes; tests shorten it through ``POST /b1s/_sandbox/settings``),
  then every call answers 401 ``{"error": {"code": "301", "message": "Invalid session or
  session already timeout."}}``.
- ``GET /{Invoices,CreditNotes,DownPayments,IncomingPayments,VendorPayments,BusinessPartners}`` with ``$select``,
  ``$filter`` (``Field ge 'value'``, ``Field eq 'value'``, joined by ``and``), ``$orderby``,
  ``$top``/``$skip`` and ``Prefer: odata.maxpagesize=N``; the answer is ``{"value": [...],
  "@odata.nextLink": "Invoices?...$skip=N"}`` (relative, as B1 writes it).
- Faults (429 with ``Retry-After``, 5xx) from the sandbox's plan with provider ``sap_b1``.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.http import json_response
from sandbox.server.sage_accounting_api import JsonlBooks, credentials, fault
from sandbox.server.state import SandboxState

COLLECTIONS = {"Invoices": "DocEntry", "CreditNotes": "DocEntry", "DownPayments": "DocEntry",
               "IncomingPayments": "DocEntry", "VendorPayments": "DocEntry", "BusinessPartners": "CardCode"}
DEFAULT_PAGE_SIZE = 20
SESSION_TIMEOUT_S = 30 * 60
_COND = re.compile(r"^\(?\s*(\w+)\s+(eq|ge|gt|le|lt|ne)\s+('(?:[^']*)'|-?\d+)\s*\)?$")


def b1_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def rate_limited(retry_after: float) -> Response:
    return b1_error(429, "-1", "Too many requests (sandbox fault).", {"Retry-After": f"{max(retry_after, 0):g}"})


def server_error(status: int) -> Response:
    return b1_error(status, "-1", "Internal server error (sandbox fault).")


def _value(text: str) -> str | int:
    return text[1:-1] if text.startswith("'") else int(text)


def _matches(row: dict[str, Any], field: str, op: str, value: str | int) -> bool:
    have = row.get(field)
    if have is None:
        return False
    if isinstance(value, str) and isinstance(have, str) and field.endswith("Date"):
        have = have[:10]  # B1 compares dates as dates; the JSON carries a midnight timestamp
    try:
        cmp = (have > value) - (have < value)  # type: ignore[operator]
    except TypeError:
        return False
    return {"eq": cmp == 0, "ne": cmp != 0, "ge": cmp >= 0, "gt": cmp > 0, "le": cmp <= 0, "lt": cmp < 0}[op]


class SapB1API:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.books = JsonlBooks(state.root, "sap_b1", key=_row_key)
        self.companies = {c["company_db"]: (code, c) for code, c in credentials(state.root, "sap_b1").items()}
        self.sessions: dict[str, tuple[str, float]] = {}  # session id -> (entity, last use)
        self.settings: dict[str, float] = {"session_timeout_s": SESSION_TIMEOUT_S}
        self.logins = 0
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [Route("/v2/Login", self.login, methods=["POST"]),
                Route("/v2/Logout", self.logout, methods=["POST"]),
                Route("/v2/{collection}", self.list, methods=["GET"]),
                Route("/_sandbox/settings", self.configure, methods=["GET", "POST"])]

    async def configure(self, request: Request) -> Response:
        if request.method == "POST":
            payload = json.loads(await request.body() or b"{}")
            if set(payload) - set(self.settings) - {"expire_all"}:
                return json_response({"error": f"unknown settings {sorted(payload)}"}, 400)
            if payload.pop("expire_all", False):
                with self._lock:
                    self.sessions.clear()
            self.settings.update(payload)
        return json_response({**self.settings, "logins": self.logins, "sessions": len(self.sessions)})

    async def login(self, request: Request) -> Response:
        injected = fault(self.state, "sap_b1", request.url.path, rate_limited, server_error)
        if injected is not None:
            return injected
        try:
            body = json.loads(await request.body() or b"{}")
        except json.JSONDecodeError:
            return b1_error(400, "-1", "Invalid JSON body.")
        found = self.companies.get(body.get("CompanyDB", ""))
        if (found is None or body.get("UserName") != found[1]["user"] or body.get("Password") != found[1]["password"]
                or self.state.faults.is_revoked(found[1]["password"])):
            return b1_error(401, "100000027", "Login failed: invalid CompanyDB, UserName or Password.")
        sid = secrets.token_hex(16)
        with self._lock:
            self.sessions[sid] = (found[0], time.monotonic())
            self.logins += 1
        timeout = float(self.settings["session_timeout_s"])
        response = json_response({"@odata.context": "$metadata#B1Sessions/$entity", "SessionId": sid,
                                  "Version": "1000190", "SessionTimeout": max(1, int(timeout // 60))})
        response.set_cookie("B1SESSION", sid, path="/b1s/v2", httponly=True)
        response.set_cookie("ROUTEID", ".node1", path="/b1s")
        return response

    async def logout(self, request: Request) -> Response:
        with self._lock:
            self.sessions.pop(request.cookies.get("B1SESSION", ""), None)
        return Response(status_code=204)

    def session(self, request: Request) -> str | None:
        sid = request.cookies.get("B1SESSION", "")
        now = time.monotonic()
        with self._lock:
            found = self.sessions.get(sid)
            if found is None:
                return None
            entity, last = found
            if now - last > float(self.settings["session_timeout_s"]):
                del self.sessions[sid]
                return None
            self.sessions[sid] = (entity, now)  # sliding expiry, as B1 does
            return entity

    def list(self, request: Request) -> Response:
        injected = fault(self.state, "sap_b1", request.url.path, rate_limited, server_error)
        if injected is not None:
            return injected
        entity = self.session(request)
        if entity is None:
            return b1_error(401, "301", "Invalid session or session already timeout.")
        collection = request.path_params["collection"]
        if collection not in COLLECTIONS:
            return b1_error(404, "-1", f"Invalid resource '{collection}'.")
        q = request.query_params
        rows = self.books.rows(entity, collection)
        flt = q.get("$filter")
        if flt:
            for cond in re.split(r"\s+and\s+", flt.strip(), flags=re.I):
                m = _COND.match(cond.strip())
                if not m:
                    return b1_error(400, "-1", f"Unsupported $filter condition: {cond}")
                field, op, value = m.group(1), m.group(2), _value(m.group(3))
                rows = [r for r in rows if _matches(r, field, op, value)]
        order = q.get("$orderby")
        if order:
            keys = [k.strip().split(" ")[0] for k in order.split(",") if k.strip()]
            rows = sorted(rows, key=lambda r: tuple(str(r.get(k, "")) if not isinstance(r.get(k), int)
                                                    else f"{r[k]:012d}" for k in keys))
        else:
            rows = sorted(rows, key=lambda r: r[COLLECTIONS[collection]])
        skip = int(q.get("$skip", "0"))
        top = int(q["$top"]) if "$top" in q else None
        if top is not None:
            rows = rows[: skip + top]
        m = re.search(r"odata\.maxpagesize=(\d+)", request.headers.get("prefer", ""))
        page_size = int(m.group(1)) if m else DEFAULT_PAGE_SIZE
        page = rows[skip : skip + page_size]
        select = q.get("$select")
        if select:
            fields = [f.strip() for f in select.split(",")]
            page = [{f: r.get(f) for f in fields} for r in page]
        body: dict[str, Any] = {"@odata.context": f"$metadata#{collection}", "value": page}
        if skip + page_size < len(rows):
            params = {k: v for k, v in q.items() if k != "$skip"}
            params["$skip"] = str(skip + page_size)
            body["@odata.nextLink"] = f"{collection}?{urlencode(params, safe='$,')}"
        headers = {"Preference-Applied": f"odata.maxpagesize={page_size}"} if m else None
        return json_response(body, 200, headers)


def _row_key(obj: dict[str, Any]) -> str:
    return str(obj.get("DocEntry", obj.get("CardCode")))
