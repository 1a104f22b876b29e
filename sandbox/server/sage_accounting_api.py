"""Sage Accounting v3.1 under ``/sage/v3.1``, plus the JSONL books shared by the ERP emulations.

Wire format: ``GET /sales_invoices?page=2&items_per_page=200&updated_or_created_since=...``
answers ``{"$total", "$page", "$next", "$back", "$itemsPerPage", "$items"}``; ``$next``
is a path relative to ``/v3.1`` (``null`` on the last page). As the live API, list items carry only
``id``, ``displayed_as`` and ``$path`` unless ``attributes=all`` is asked for. OAuth2 bearer
tokens come from ``world.json`` (``sage_accounting.access_token``); a wrong or revoked
token answers 401 with Sage's error array. Faults (429 with ``Retry-After``, 5xx) come
from the sandbox's fault plan with provider ``sage_accounting``.

The ERP books (:class:`JsonlBooks`) are small, so they are plain dicts re-read when
their file changes on disk: a test "edits the ERP" by appending a newer version of
an object to the JSONL file (the last line with an id wins).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.http import DroppedResponse, json_response
from sandbox.server.state import SandboxState

RESOURCES = ("contacts", "sales_invoices", "sales_credit_notes", "contact_payments", "contact_allocations")
MAX_ITEMS_PER_PAGE = 200
DEFAULT_ITEMS_PER_PAGE = 20


class JsonlBooks:
    """``<root>/<ENTITY>/<erp>/<object>.jsonl`` as lists of dicts, reloaded when a file's mtime/size changes."""

    def __init__(self, root: Path, erp: str, key: Callable[[dict[str, Any]], str]) -> None:
        self.root, self.erp, self.key = Path(root), erp, key
        self._cache: dict[tuple[str, str], tuple[tuple[float, int], list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def rows(self, entity: str, kind: str) -> list[dict[str, Any]]:
        path = self.root / entity / self.erp / f"{kind}.jsonl"
        if not path.exists():
            return []
        stat = path.stat()
        sig = (stat.st_mtime, stat.st_size)
        with self._lock:
            found = self._cache.get((entity, kind))
            if found is not None and found[0] == sig:
                return found[1]
            latest: dict[str, dict[str, Any]] = {}
            with path.open(encoding="utf-8") as fh:
                for line in fh:
                    if line.strip():
                        obj = json.loads(line)
                        latest.pop(self.key(obj), None)  # a newer version moves to the end, as a change would
                        latest[self.key(obj)] = obj
            rows = list(latest.values())
            self._cache[(entity, kind)] = (sig, rows)
            return rows


def credentials(root: Path, erp: str) -> dict[str, dict[str, Any]]:
    """entity -> that entity's credentials block for ``erp`` in ``world.json``."""
    world = Path(root) / "world.json"
    if not world.exists():
        return {}
    meta = json.loads(world.read_text(encoding="utf-8"))
    return {e["code"]: e[erp] for e in meta.get("entities", []) if isinstance(e.get(erp), dict)}


def fault(state: SandboxState, provider: str, path: str,
          rate_limited: Callable[[float], Response], server_error: Callable[[int], Response]) -> Response | None:
    """The response the sandbox's fault plan wants for this request, if any."""
    action = state.faults.decide(provider, path)
    if action is None:
        return None
    kind, value = action
    if kind == "drop":
        return DroppedResponse()
    if kind == "rate_limit":
        return rate_limited(float(value))
    return server_error(int(value))


def sage_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response([{"$severity": "error", "$dataCode": code, "$message": message, "$source": ""}],
                         status, headers)


def rate_limited(retry_after: float) -> Response:
    return sage_error(429, "RateLimitExceeded", "Too many requests. Please retry later.",
                      {"Retry-After": f"{max(retry_after, 0):g}"})


def server_error(status: int) -> Response:
    return sage_error(status, "InternalServerError", "An unexpected error occurred (sandbox fault).")


class SageAccountingAPI:
    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.books = JsonlBooks(state.root, "sage_accounting", key=lambda o: str(o["id"]))
        self.tokens = {c["access_token"]: code for code, c in credentials(state.root, "sage_accounting").items()}

    def routes(self) -> list[Route]:
        return [Route("/v3.1/{resource}", self.list, methods=["GET"])]

    def list(self, request: Request) -> Response:
        injected = fault(self.state, "sage_accounting", request.url.path, rate_limited, server_error)
        if injected is not None:
            return injected
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        entity = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if entity is None or self.state.faults.is_revoked(token.strip()):
            return sage_error(401, "InvalidToken", "The access token is invalid or has expired.")
        resource = request.path_params["resource"]
        if resource not in RESOURCES:
            return sage_error(404, "RecordNotFound", f"Resource {resource} not found.")
        q = request.query_params
        try:
            page = int(q.get("page", "1"))
            per_page = int(q.get("items_per_page", str(DEFAULT_ITEMS_PER_PAGE)))
        except ValueError:
            return sage_error(400, "InvalidParameter", "page and items_per_page must be integers.")
        if not 1 <= per_page <= MAX_ITEMS_PER_PAGE or page < 1:
            return sage_error(400, "InvalidParameter",
                              f"items_per_page must be between 1 and {MAX_ITEMS_PER_PAGE}; page must be >= 1.")
        rows = self.books.rows(entity, resource)
        since = q.get("updated_or_created_since")
        if since:
            since = _norm(since)
            rows = [r for r in rows if _norm(r.get("updated_at") or r.get("created_at") or "") >= since]
        rows = sorted(rows, key=lambda r: (_norm(r.get("updated_at", "")), r["id"]))
        start = (page - 1) * per_page
        items = rows[start : start + per_page]
        if q.get("attributes") != "all":  # Sage's default list view
            items = [{"id": r["id"], "displayed_as": r.get("displayed_as"), "$path": f"/{resource}/{r['id']}"}
                     for r in items]

        def link(p: int) -> str:
            params = {k: v for k, v in q.items() if k not in ("page", "items_per_page")}
            params.update(page=str(p), items_per_page=str(per_page))
            return f"/{resource}?{urlencode(params)}"

        body = {
            "$total": len(rows), "$page": page,
            "$next": link(page + 1) if start + per_page < len(rows) else None,
            "$back": link(page - 1) if page > 1 else None,
            "$itemsPerPage": per_page, "$items": items,
        }
        return json_response(body)


def _norm(ts: str) -> str:
    """ISO instants compared as text: ``Z`` and ``+00:00`` written the same way, date-only allowed."""
    ts = ts.strip().replace("+00:00", "Z")
    if len(ts) == 10:
        ts += "T00:00:00Z"
    if not ts.endswith("Z"):
        ts += "Z"
    return ts
