"""Oracle NetSuite SuiteQL under ``/netsuite/services/rest/query/v1/suiteql``.

What a real account does and this emulation keeps:

- ``POST`` with body ``{"q": "SELECT ..."}``, ``limit`` (≤ 1000) and ``offset`` query
  parameters, header ``Prefer: transient``; answer ``{"links", "count", "hasMore",
  "items", "offset", "totalResults"}``, every value a string (or null);
- token-based authentication, OAuth 1.0a HMAC-SHA256 with ``realm`` = account id,
  the signature **verified** against the consumer and token secrets of ``world.json``;
- at most ``row_cap`` (100,000) rows reachable per query: ``offset + limit`` beyond
  it is an error, so clients page by key range;
- an account concurrency limit: more than ``concurrency_limit`` requests in flight
  answer 429 ``CONCURRENCY_LIMIT_EXCEEDED``.

SuiteQL is parsed only as far as the connector's query shapes need::

    SELECT col, TO_CHAR(col, 'YYYY-MM-DD"T"HH24:MI:SS') AS alias FROM table [alias]
    [INNER JOIN table [alias] ON a.col = b.col [AND cond ...]]
    [WHERE cond AND cond ...] [ORDER BY col, col]

with conditions ``col IN ('a', 'b')``, ``col IN (1, 2)``, ``col >|>=|=|< value`` and
``col >= TO_TIMESTAMP('2025-01-01 00:00:00', 'YYYY-MM-DD HH24:MI:SS')``; columns may be
qualified by their table's alias (``t.id``) and come back under their own name (``id``).
Anything else answers 400 the way NetSuite does, so the connector cannot drift silently.

OneWorld: a transaction's subsidiary is on its main line (``transactionline`` with
``mainline = 'T'``), a customer's primary one on the customer; both default to ``1``
when the world's rows do not say (a single-subsidiary account).

``POST /netsuite/_sandbox/settings`` (``concurrency_limit``, ``latency_s``, ``row_cap``)
lets tests tighten the limits.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import threading
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.http import json_response
from sandbox.server.sage_accounting_api import JsonlBooks, credentials, fault
from sandbox.server.state import SandboxState

MAX_LIMIT = 1000
ROW_CAP = 100_000
CONCURRENCY_LIMIT = 5
TABLES = ("transaction", "customer", "nexttransactionlinelink", "currency", "term", "deletedrecord")
NUMERIC = {"id", "entity", "previousdoc", "nextdoc", "currency", "terms", "transaction", "subsidiary"}


def ns_error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> Response:
    titles = {400: "Bad Request", 401: "Unauthorized", 429: "Too Many Requests", 500: "Internal Server Error"}
    return json_response({"type": "https://www.rfc-editor.org/rfc/rfc9110.html", "title": titles.get(status, "Error"),
                          "status": status, "o:errorDetails": [{"detail": detail, "o:errorCode": code}]},
                         status, headers)


def rate_limited(retry_after: float) -> Response:
    return ns_error(429, "CONCURRENCY_LIMIT_EXCEEDED", "Request blocked by the request rate limit (sandbox fault).",
                    {"Retry-After": f"{max(retry_after, 0):g}"})


def server_error(status: int) -> Response:
    return ns_error(status, "UNEXPECTED_ERROR", "An unexpected error occurred (sandbox fault).")


# ----------------------------------------------------------------------------- OAuth 1.0a


def percent(value: str) -> str:
    """RFC 3986 percent-encoding, as OAuth 1.0a (RFC 5849 §3.6) wants it."""
    return quote(value, safe="~-._")


def parse_oauth_header(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "oauth":
        return {}
    out = {}
    for part in re.findall(r'([\w]+)="([^"]*)"', rest):
        out[part[0]] = _unquote(part[1])
    return out


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


def signature(method: str, url: str, params: list[tuple[str, str]], consumer_secret: str, token_secret: str) -> str:
    """RFC 5849 base string over method, base URL and sorted parameters; HMAC-SHA256, base64."""
    normalized = "&".join(f"{k}={v}" for k, v in sorted((percent(k), percent(v)) for k, v in params))
    base = "&".join((method.upper(), percent(url), percent(normalized)))
    key = f"{percent(consumer_secret)}&{percent(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), hashlib.sha256).digest()).decode()


# ----------------------------------------------------------------------------- SuiteQL subset

_SELECT = re.compile(r"^\s*SELECT\s+(?P<cols>.+?)\s+FROM\s+(?P<from>.+?)"
                     r"(?:\s+WHERE\s+(?P<where>.+?))?(?:\s+ORDER\s+BY\s+(?P<order>[\w\s,.]+?))?\s*$", re.I | re.S)
_KEYWORD = r"(?!(?:INNER|JOIN|ON)\b)"
_FROM = re.compile(rf"^(?P<t1>\w+)(?:\s+(?:AS\s+)?{_KEYWORD}(?P<a1>\w+))?"
                   rf"(?:\s+(?:INNER\s+)?JOIN\s+(?P<t2>\w+)(?:\s+(?:AS\s+)?{_KEYWORD}(?P<a2>\w+))?\s+ON\s+(?P<on>.+))?$",
                   re.I | re.S)
_TO_CHAR = re.compile(r"^TO_CHAR\(\s*([\w.]+)\s*,\s*'([^']*)'\s*\)\s+AS\s+(\w+)$", re.I)
_COND_IN = re.compile(r"^([\w.]+)\s+IN\s*\((.+)\)$", re.I)
_COND_CMP = re.compile(r"^([\w.]+)\s*(>=|<=|>|<|=)\s*(.+)$")
_COND_JOIN = re.compile(r"^(\w+)\.(\w+)\s*=\s*(\w+)\.(\w+)$")
_MISSING = object()
_TO_TS = re.compile(r"^TO_TIMESTAMP\(\s*'([^']+)'\s*,\s*'YYYY-MM-DD HH24:MI:SS'\s*\)$", re.I)


class SuiteQLError(ValueError):
    pass


def _literal(text: str) -> str:
    text = text.strip()
    m = _TO_TS.match(text)
    if m:
        return m.group(1).replace(" ", "T") + "Z"
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if re.fullmatch(r"-?\d+", text):
        return text
    raise SuiteQLError(f"unsupported value {text!r}")


def _split_and(where: str) -> list[str]:
    parts, depth, current = [], 0, ""
    tokens = re.split(r"(\s+AND\s+|\(|\))", where, flags=re.I)
    for tok in tokens:
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if depth == 0 and re.fullmatch(r"\s+AND\s+", tok or "", flags=re.I):
            parts.append(current)
            current = ""
        else:
            current += tok or ""
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _compare(a: str | None, b: str, column: str) -> int:
    if a is None:
        return -1
    if column in NUMERIC and re.fullmatch(r"-?\d+", a) and re.fullmatch(r"-?\d+", b):
        return (int(a) > int(b)) - (int(a) < int(b))
    return (a > b) - (a < b)


def _to_char(value: str | None, fmt: str) -> str | None:
    if value is None:
        return None
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    py = (fmt.replace('"T"', "T").replace("YYYY", "%Y").replace("MM", "%m").replace("DD", "%d")
          .replace("HH24", "%H").replace("MI", "%M").replace("SS", "%S"))
    return dt.strftime(py)


def run_query(q: str, tables: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    m = _SELECT.match(q)
    if not m:
        raise SuiteQLError("Invalid search query. Only SELECT ... FROM ... [WHERE ...] [ORDER BY ...] is supported.")
    rows, where_extra, table = _from(m.group("from").strip(), tables)
    where = [*_split_and(m.group("where") or ""), *where_extra]
    for cond in where:
        if cond.startswith("(") and cond.endswith(")"):
            cond = cond[1:-1].strip()
        if mi := _COND_IN.match(cond):
            col, values = mi.group(1).lower(), {_literal(v) for v in mi.group(2).split(",")}
            rows = [r for r in rows if _get(r, col) not in (None, _MISSING) and str(_get(r, col)) in values]
        elif mc := _COND_CMP.match(cond):
            col, op, value = mc.group(1).lower(), mc.group(2), _literal(mc.group(3))
            ok = {">": lambda c: c > 0, ">=": lambda c: c >= 0, "<": lambda c: c < 0, "<=": lambda c: c <= 0,
                  "=": lambda c: c == 0}[op]
            rows = [r for r in rows if _get(r, col) not in (None, _MISSING)
                    and ok(_compare(str(_get(r, col)), value, _bare(col)))]
        else:
            raise SuiteQLError(f"Invalid search query. Unsupported condition: {cond}")
    order = m.group("order")
    if order:
        keys = [c.strip().lower() for c in order.split(",") if c.strip()]

        def sort_key(r: dict[str, Any]) -> tuple[Any, ...]:
            out = []
            for k in keys:
                v = _get(r, k)
                v = None if v is _MISSING else v
                out.append((0, int(v)) if _bare(k) in NUMERIC and v is not None else (1, str(v or "")))
            return tuple(out)

        rows = sorted(rows, key=sort_key)
    out_cols: list[tuple[str, str, str | None]] = []  # (alias, source column, to_char format)
    for raw in _split_cols(m.group("cols")):
        if tc := _TO_CHAR.match(raw):
            out_cols.append((tc.group(3).lower(), tc.group(1).lower(), tc.group(2)))
        elif re.fullmatch(r"[\w.]+", raw):
            out_cols.append((_bare(raw.lower()), raw.lower(), None))
        else:
            raise SuiteQLError(f"Invalid search query. Unsupported column expression: {raw}")
    result = []
    for r in rows:
        item: dict[str, Any] = {"links": []}
        for alias, col, fmt in out_cols:
            value = _get(r, col)
            if value is _MISSING and _bare(col) != "id":
                raise SuiteQLError(f"Invalid search query. Field '{_bare(col)}' for record '{table}' was not found.")
            value = None if value is _MISSING else value
            item[alias] = _to_char(value, fmt) if fmt else (None if value is None else str(value))
        result.append(item)
    return result


def _bare(col: str) -> str:
    return col.rsplit(".", 1)[-1]


def _get(row: dict[str, Any], col: str) -> Any:
    """A column by its qualified name (``t.id``, in a join) or its own (``id``, the first table's first)."""
    if col in row:
        return row[col]
    if "." in col:
        bare = _bare(col)
        return row[bare] if "__joined" not in row and bare in row else _MISSING
    return _MISSING


def _from(clause: str, tables: dict[str, list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], list[str], str]:
    """Rows of ``FROM t [a] [INNER JOIN u [b] ON a.x = b.y [AND ...]]``, and the ON clause's other conditions."""
    f = _FROM.match(clause)
    if not f:
        raise SuiteQLError(f"Invalid search query. Unsupported FROM clause: {clause}")
    t1 = f.group("t1").lower()
    for t in (t1, (f.group("t2") or "").lower()):
        if t and t not in tables:
            raise SuiteQLError(f"Record '{t}' was not found.")
    if not f.group("t2"):
        return list(tables[t1]), [], t1
    t2, a1, a2 = f.group("t2").lower(), (f.group("a1") or t1).lower(), (f.group("a2") or f.group("t2")).lower()
    keys: tuple[str, str] | None = None
    extra: list[str] = []
    for cond in _split_and(f.group("on")):
        if (mj := _COND_JOIN.match(cond)) and {mj.group(1).lower(), mj.group(3).lower()} == {a1, a2}:
            left, right = (mj.group(2), mj.group(4)) if mj.group(1).lower() == a1 else (mj.group(4), mj.group(2))
            keys = (left.lower(), right.lower())
        else:
            extra.append(cond)
    if keys is None:
        raise SuiteQLError(f"Invalid search query. The join needs {a1}.col = {a2}.col: {clause}")
    index: dict[str, list[dict[str, Any]]] = {}
    for r2 in tables[t2]:
        index.setdefault(str(r2.get(keys[1])), []).append(r2)
    rows = []
    for r1 in tables[t1]:
        for r2 in index.get(str(r1.get(keys[0])), []):
            row: dict[str, Any] = {"__joined": True, **r2, **r1}
            row.update({f"{a2}.{k}": v for k, v in r2.items()})
            row.update({f"{a1}.{k}": v for k, v in r1.items()})
            rows.append(row)
    return rows, extra, t1


def _split_cols(cols: str) -> list[str]:
    out, depth, current = [], 0, ""
    for ch in cols:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    out.append(current.strip())
    return out


# ----------------------------------------------------------------------------- the app


class NetSuiteAPI:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.books = JsonlBooks(state.root, "netsuite", key=_row_key)
        self.accounts = {c["account_id"]: (code, c) for code, c in credentials(state.root, "netsuite").items()}
        self.settings = {"concurrency_limit": CONCURRENCY_LIMIT, "latency_s": 0.0, "row_cap": ROW_CAP}
        self.in_flight: dict[str, int] = {}
        self.peak_in_flight: dict[str, int] = {}
        self._lock = threading.Lock()

    def routes(self) -> list[Route]:
        return [Route("/services/rest/query/v1/suiteql", self.suiteql, methods=["POST"]),
                Route("/_sandbox/settings", self.configure, methods=["GET", "POST"])]

    async def configure(self, request: Request) -> Response:
        if request.method == "POST":
            payload = json.loads(await request.body() or b"{}")
            unknown = set(payload) - set(self.settings) - {"reset_peak"}
            if unknown:
                return json_response({"error": f"unknown settings {sorted(unknown)}"}, 400)
            if payload.pop("reset_peak", False):
                self.peak_in_flight.clear()
            self.settings.update(payload)
        return json_response({**self.settings, "peak_in_flight": self.peak_in_flight})

    def authenticate(self, request: Request) -> tuple[str, str] | Response:
        oauth = parse_oauth_header(request.headers.get("authorization", ""))
        account = oauth.get("realm", "")
        found = self.accounts.get(account)
        invalid = ns_error(401, "INVALID_LOGIN", "Invalid login attempt. For more details, see the Login Audit "
                           "Trail in the NetSuite UI at Setup > Users/Roles > User Management > View Login Audit Trail.")
        if found is None or oauth.get("oauth_signature_method") != "HMAC-SHA256":
            return invalid
        code, creds = found
        if oauth.get("oauth_consumer_key") != creds["consumer_key"] or oauth.get("oauth_token") != creds["token_id"]:
            return invalid
        if self.state.faults.is_revoked(creds["token_id"]):
            return invalid
        params = [(k, v) for k, v in oauth.items() if k.startswith("oauth_") and k != "oauth_signature"]
        params += parse_qsl(request.url.query, keep_blank_values=True)
        url = f"{request.url.scheme}://{request.url.netloc.lower()}{request.url.path}"
        expected = signature(request.method, url, params, creds["consumer_secret"], creds["token_secret"])
        if not hmac.compare_digest(expected, oauth.get("oauth_signature", "")):
            return invalid
        return account, code

    async def suiteql(self, request: Request) -> Response:
        injected = fault(self.state, "netsuite", request.url.path, rate_limited, server_error)
        if injected is not None:
            return injected
        auth = self.authenticate(request)
        if isinstance(auth, Response):
            return auth
        account, entity = auth
        with self._lock:
            busy = self.in_flight.get(account, 0)
            if busy >= int(self.settings["concurrency_limit"]):
                return ns_error(429, "CONCURRENCY_LIMIT_EXCEEDED",
                                "Concurrent request limit exceeded. Request blocked.")
            self.in_flight[account] = busy + 1
            self.peak_in_flight[account] = max(self.peak_in_flight.get(account, 0), busy + 1)
        try:
            if self.settings["latency_s"]:
                await asyncio.sleep(float(self.settings["latency_s"]))
            return await self._answer(request, entity)
        finally:
            with self._lock:
                self.in_flight[account] -= 1

    async def _answer(self, request: Request, entity: str) -> Response:
        if request.headers.get("prefer", "").lower() != "transient":
            return ns_error(400, "INVALID_HEADER", "The header 'Prefer: transient' is required for SuiteQL queries.")
        try:
            limit = int(request.query_params.get("limit", str(MAX_LIMIT)))
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return ns_error(400, "INVALID_PARAMETER", "limit and offset must be integers.")
        if not 1 <= limit <= MAX_LIMIT or offset < 0 or offset % limit:
            return ns_error(400, "INVALID_PARAMETER",
                            f"Invalid limit/offset: limit must be 1..{MAX_LIMIT} and offset a multiple of limit.")
        cap = int(self.settings["row_cap"])
        if offset + limit > cap:
            return ns_error(400, "INVALID_PARAMETER",
                            f"The combination of offset ({offset}) and limit ({limit}) exceeds the maximum of {cap} "
                            "results for one query. Narrow the query with a WHERE condition.")
        try:
            body = json.loads(await request.body() or b"{}")
            tables = {t: self.books.rows(entity, t) for t in TABLES}
            tables["customer"] = [r if "subsidiary" in r else {**r, "subsidiary": "1"} for r in tables["customer"]]
            tables["transactionline"] = [{"id": "0", "transaction": t["id"], "mainline": "T",
                                          "subsidiary": t.get("subsidiary") or "1"} for t in tables["transaction"]]
            rows = run_query(str(body.get("q", "")), tables)
        except (SuiteQLError, json.JSONDecodeError) as exc:
            return ns_error(400, "INVALID_PARAMETER", str(exc))
        total = len(rows)  # NetSuite reports the true total; only the offsets beyond the cap are refused
        page = rows[offset : offset + limit]
        has_more = offset + len(page) < total
        base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        links = [{"rel": "self", "href": f"{base}?limit={limit}&offset={offset}"}]
        if has_more:
            links.append({"rel": "next", "href": f"{base}?limit={limit}&offset={offset + limit}"})
        return json_response({"links": links, "count": len(page), "hasMore": has_more, "items": page,
                              "offset": offset, "totalResults": total})


def _row_key(obj: dict[str, Any]) -> str:
    if "recordid" in obj:  # a DeletedRecord row
        return f"deleted:{obj.get('type')}:{obj['recordid']}"
    if "id" in obj:
        return str(obj["id"])
    return f"{obj.get('previousdoc')}>{obj.get('nextdoc')}"
