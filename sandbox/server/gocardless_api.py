"""GoCardless's wire format under ``/gocardless``: enveloped lists, cursors, payout items, payment creates.

Lists are newest first; ``meta.cursors.after`` is the id of the last record of
the page (``null`` on the last page), as the official SDK's paginator expects.
Payout items of payouts created more than six months before the server's "now"
answer ``410 Gone``, as the real API does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.http import json_response, params_hash, to_int
from sandbox.server.state import SandboxState
from sandbox.server.store import GOCARDLESS_TYPES, iso_to_micros

SIX_MONTHS_S = 183 * 86400
DOCS = "https://developer.gocardless.com/api-reference"


def rate_headers(remaining: int = 999, reset_in: float = 60.0) -> dict[str, str]:
    import time

    return {
        "ratelimit-limit": "1000",
        "ratelimit-remaining": str(remaining),
        "ratelimit-reset": formatdate(time.time() + reset_in, usegmt=True),
    }


def error(status: int, type_: str, message: str, reason: str | None = None, **extra: Any) -> Response:
    detail: dict[str, Any] = {"reason": reason or type_, "message": message, **extra}
    body = {
        "error": {
            "message": message,
            "documentation_url": f"{DOCS}#api-usage-errors",
            "type": type_,
            "request_id": "sandbox-request",
            "errors": [detail],
            "code": status,
        }
    }
    return json_response(body, status, rate_headers())


def rate_limited(reset_in: float) -> Response:
    response = error(429, "invalid_api_usage", "Rate limit exceeded", "rate_limit_exceeded")
    response.headers.update(rate_headers(remaining=0, reset_in=reset_in))
    return response


def server_error(status: int) -> Response:
    return error(
        status, "gocardless", "Uh-oh! Something went wrong (sandbox fault).", "internal_server_error"
    )


class GoCardlessAPI:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/payments", self.create_payment, methods=["POST"]),
            Route("/payout_items", self.payout_items, methods=["GET"]),
            Route("/{kind}", self.list, methods=["GET"]),
            Route("/{kind}/{oid}", self.retrieve, methods=["GET"]),
        ]

    def authenticate(self, request: Request) -> str | Response:
        if not request.headers.get("gocardless-version"):
            return error(
                400, "invalid_api_usage", "GoCardless-Version header is required", "missing_version_header"
            )
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        entity = self.state.gocardless_tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if entity is None or self.state.faults.is_revoked(token.strip()):
            return error(401, "invalid_api_usage", "Invalid access token", "invalid_token")
        return entity

    def list(self, request: Request) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        kind = request.path_params["kind"]
        if kind not in GOCARDLESS_TYPES:
            return error(404, "invalid_api_usage", f"Resource not found: /{kind}", "path_not_found")
        q = request.query_params
        limit = _limit(q.get("limit"))
        if isinstance(limit, Response):
            return limit
        try:
            gte, lt = _created_range(q)
        except ValueError as exc:
            return error(422, "validation_failed", f"created_at: {exc}", "invalid_type", field="created_at")
        coll = self.state.store(entity).gocardless(kind)
        subset = None
        if (status := q.get("status")) is not None:
            wanted = status.split(",")
            if len(wanted) == 1:
                subset = coll.indexes["status"].get(status, [])
            else:
                subset = sorted(p for w in wanted for p in coll.indexes["status"].get(w, []))
        after, before = q.get("after"), q.get("before")
        if after and before:
            return error(
                400, "invalid_api_usage", "Only one of after and before may be given", "invalid_cursors"
            )
        cursor = after or before
        pos = coll.position.get(cursor) if cursor else None
        if cursor and pos is None:
            return error(400, "invalid_api_usage", f"Cursor {cursor!r} is invalid", "cursor_invalid")
        lo, hi = coll.created_range(gte, lt)
        page = coll.page(
            lo=lo,
            hi=hi,
            subset=subset,
            limit=limit,
            after=pos if after else None,
            before=pos if before else None,
        )
        older, newer = page.older, page.newer
        ids = [coll.ids[p] for p in page.positions]
        meta = {
            "cursors": {
                "before": ids[0] if ids and newer else None,
                "after": ids[-1] if ids and older else None,
            },
            "limit": limit,
        }
        body = b"".join(
            (
                b'{"',
                kind.encode(),
                b'":[',
                b",".join(coll.raw(p) for p in page.positions),
                b'],"meta":',
                json.dumps(meta, separators=(",", ":")).encode(),
                b"}",
            )
        )
        return json_response(body, headers=rate_headers())

    def payout_items(self, request: Request) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        q = request.query_params
        payout = q.get("payout")
        if not payout:
            return error(422, "validation_failed", "payout is required", "missing_parameter", field="payout")
        limit = _limit(q.get("limit"))
        if isinstance(limit, Response):
            return limit
        store = self.state.store(entity)
        raw_payout = store.gocardless("payouts").get(payout)
        if raw_payout is None:
            return error(
                404, "invalid_api_usage", f"Resource not found: payout {payout}", "resource_not_found"
            )
        created = iso_to_micros(json.loads(raw_payout)["created_at"]) / 1_000_000
        if created < self.state.now() - SIX_MONTHS_S:
            return error(
                410,
                "invalid_api_usage",
                "Payout items are only available for payouts created in the last 6 months",
                "gone",
            )
        start = _index_cursor(q.get("after"))
        if isinstance(start, Response):
            return start
        items, total = store.payout_items().items(payout, start, limit)
        end = start + len(items)
        meta = {
            "cursors": {
                "before": f"PI{start}" if start else None,
                "after": f"PI{end}" if end < total else None,
            },
            "limit": limit,
        }
        body = b"".join(
            (
                b'{"payout_items":[',
                b",".join(items),
                b'],"meta":',
                json.dumps(meta, separators=(",", ":")).encode(),
                b"}",
            )
        )
        return json_response(body, headers=rate_headers())

    def retrieve(self, request: Request) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        kind, oid = request.path_params["kind"], request.path_params["oid"]
        if kind not in GOCARDLESS_TYPES:
            return error(404, "invalid_api_usage", f"Resource not found: /{kind}", "path_not_found")
        created = self.state.created_for(entity).objects.get(oid)
        if created is not None and kind == "payments":
            return json_response({"payments": created}, headers=rate_headers())
        raw = self.state.store(entity).gocardless(kind).get(oid)
        if raw is None:
            return error(404, "invalid_api_usage", f"Resource not found: {oid}", "resource_not_found")
        return json_response(b'{"' + kind.encode() + b'":' + raw + b"}", headers=rate_headers())

    async def create_payment(self, request: Request) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        try:
            params = json.loads(await request.body() or b"{}").get("payments") or {}
        except (ValueError, AttributeError):
            return error(
                400, "invalid_api_usage", "Request body is not valid JSON", "invalid_document_structure"
            )
        created = self.state.created_for(entity)
        key = request.headers.get("idempotency-key")
        if key and (seen := created.idempotency.get(("payments", key, "gocardless"))) is not None:
            return error(
                409,
                "invalid_state",
                "A resource has already been created with this idempotency key",
                "idempotent_creation_conflict",
                links={"conflicting_resource_id": seen[1]},
            )
        problems = _validate_payment(params, self.state.store(entity).gocardless("mandates"))
        if problems:
            body = {
                "error": {
                    "message": "Validation failed",
                    "documentation_url": f"{DOCS}#validation_failed",
                    "type": "validation_failed",
                    "request_id": "sandbox-request",
                    "code": 422,
                    "errors": [
                        {"field": f, "message": m, "request_pointer": f"/payments/{f}"} for f, m in problems
                    ],
                }
            }
            return json_response(body, 422, rate_headers())
        created.counter += 1
        oid = f"PM{entity}{created.counter:010d}"
        now = datetime.fromtimestamp(self.state.now(), UTC)
        mandate = params["links"]["mandate"]
        payment = {
            "id": oid,
            "created_at": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "charge_date": params.get("charge_date") or now.date().isoformat(),
            "amount": int(params["amount"]),
            "description": params.get("description"),
            "currency": params.get("currency", "EUR"),
            "status": "pending_submission",
            "amount_refunded": 0,
            "reference": params.get("reference"),
            "metadata": params.get("metadata") or {},
            "retry_if_possible": bool(params.get("retry_if_possible", True)),
            "scheme": None,
            "links": {"mandate": mandate, "creditor": f"CR{entity}"},
        }
        created.objects[oid] = payment
        if key:
            created.idempotency[("payments", key, "gocardless")] = (params_hash(params), oid)
        return json_response({"payments": payment}, 201, rate_headers())


def _limit(raw: str | None) -> int | Response:
    try:
        limit = to_int(raw)
    except ValueError:
        return error(422, "validation_failed", "limit must be a number", "invalid_type", field="limit")
    limit = 50 if limit is None else limit
    if not 1 <= limit <= 500:
        return error(
            422, "validation_failed", "limit must be between 1 and 500", "invalid_type", field="limit"
        )
    return limit


def _created_range(q: Any) -> tuple[int | None, int | None]:
    gte = lt = None
    for op in ("gte", "gt", "lte", "lt"):
        raw = q.get(f"created_at[{op}]")
        if raw is None:
            continue
        micros = iso_to_micros(raw)
        if op in ("gte", "gt"):
            value = micros + (1 if op == "gt" else 0)
            gte = value if gte is None else max(gte, value)
        else:
            value = micros + (1 if op == "lte" else 0)
            lt = value if lt is None else min(lt, value)
    return gte, lt


def _index_cursor(raw: str | None) -> int | Response:
    if not raw:
        return 0
    if raw.startswith("PI") and raw[2:].isdigit():
        return int(raw[2:])
    return error(400, "invalid_api_usage", f"Cursor {raw!r} is invalid", "cursor_invalid")


def _validate_payment(p: dict[str, Any], mandates: Any) -> list[tuple[str, str]]:
    problems = []
    amount = p.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
        problems.append(("amount", "must be a positive integer number of cents"))
    mandate = (p.get("links") or {}).get("mandate")
    if not mandate:
        problems.append(("links.mandate", "is required"))
    elif mandates.get(mandate) is None:
        problems.append(("links.mandate", f"mandate {mandate} not found"))
    return problems
