"""Stripe's wire format under ``/stripe``: list, retrieve, and two creates for dunning.

Lists are newest first with ``limit``/``starting_after``/``ending_before`` and
``created[gte|gt|lte|lt]`` exactly as ``api.stripe.com`` answers them, so the
official SDK's paging works unchanged against this server.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.server.http import json_response, params_hash, parse_form, to_int
from sandbox.server.state import SandboxState
from sandbox.server.store import STRIPE_TYPES

OBJECT_NAMES = {
    "charges": "charge",
    "payouts": "payout",
    "balance_transactions": "balance_transaction",
    "refunds": "refund",
    "disputes": "dispute",
    "customers": "customer",
    "events": "event",
}
FILTERS = {
    "balance_transactions": ("payout", "type"),
    "events": ("type",),
    "charges": ("customer",),
    "payouts": ("status",),
}


def error(status: int, message: str, *, type_: str = "invalid_request_error", **extra: Any) -> Response:
    body = {"error": {"type": type_, "message": message, **extra}}
    return json_response(body, status, {"Request-Id": "req_sandbox"})


def rate_limited(retry_after: float) -> Response:
    return json_response(
        {
            "error": {
                "type": "invalid_request_error",
                "code": "rate_limit",
                "message": "Too many requests hit the API too quickly. We recommend an exponential backoff.",
            }
        },
        429,
        {"Retry-After": f"{retry_after:g}", "Stripe-Should-Retry": "true"},
    )


def server_error(status: int) -> Response:
    return json_response(
        {"error": {"type": "api_error", "message": "An unknown error occurred (sandbox fault)."}},
        status,
        {"Stripe-Should-Retry": "true"},
    )


def api_key_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value).decode().split(":", 1)[0] or None
        except ValueError:
            return None
    return None


def _masked(key: str) -> str:
    return key[:8] + "*" * max(len(key) - 12, 0) + key[-4:]


class StripeAPI:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        return [
            Route("/v1/payment_links", self.create_payment_link, methods=["POST"]),
            Route("/v1/checkout/sessions", self.create_checkout_session, methods=["POST"]),
            Route("/v1/checkout/sessions/{oid}", self.retrieve_created, methods=["GET"]),
            Route("/v1/payment_links/{oid}", self.retrieve_created, methods=["GET"]),
            Route("/v1/{kind}", self.list, methods=["GET"]),
            Route("/v1/{kind}/{oid}", self.retrieve, methods=["GET"]),
        ]

    def authenticate(self, request: Request) -> str | Response:
        key = api_key_of(request)
        if key is None:
            return error(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        entity = self.state.stripe_keys.get(key)
        if entity is None or self.state.faults.is_revoked(key):
            return error(401, f"Invalid API Key provided: {_masked(key)}")
        return entity

    def list(self, request: Request) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        kind = request.path_params["kind"]
        if kind not in STRIPE_TYPES:
            return error(404, f"Unrecognized request URL (GET: /v1/{kind}).")
        q = request.query_params
        try:
            limit = to_int(q.get("limit"))
        except ValueError:
            return error(400, f"Invalid integer: {q.get('limit')}", param="limit")
        limit = 10 if limit is None else limit
        if not 1 <= limit <= 100:
            return error(
                400,
                "This value must be greater than or equal to 1 and less than or equal to 100.",
                param="limit",
            )
        try:
            exact = to_int(q.get("created"))
            gte, lt = exact, (exact + 1 if exact is not None else None)
            if (v := to_int(q.get("created[gte]"))) is not None:
                gte = v if gte is None else max(gte, v)
            if (v := to_int(q.get("created[gt]"))) is not None:
                gte = v + 1 if gte is None else max(gte, v + 1)
            if (v := to_int(q.get("created[lt]"))) is not None:
                lt = v if lt is None else min(lt, v)
            if (v := to_int(q.get("created[lte]"))) is not None:
                lt = v + 1 if lt is None else min(lt, v + 1)
        except ValueError:
            return error(400, "Invalid timestamp: must be an integer Unix timestamp.", param="created")
        starting_after, ending_before = q.get("starting_after"), q.get("ending_before")
        if starting_after and ending_before:
            return error(400, "You may only specify one of these parameters: starting_after, ending_before.")
        coll = self.state.store(entity).stripe(kind)
        subset = None
        for name in FILTERS.get(kind, ()):
            if (value := q.get(name)) is not None:
                subset = coll.indexes[name].get(value, [])
        cursor = starting_after or ending_before
        cursor_pos = None
        if cursor:
            cursor_pos = coll.position.get(cursor)
            if cursor_pos is None:
                param = "starting_after" if starting_after else "ending_before"
                return error(
                    400, f"No such {OBJECT_NAMES[kind]}: '{cursor}'", code="resource_missing", param=param
                )
        lo, hi = coll.created_range(gte, lt)
        page = coll.page(
            lo=lo,
            hi=hi,
            subset=subset,
            limit=limit,
            after=cursor_pos if starting_after else None,
            before=cursor_pos if ending_before else None,
        )
        has_more = page.newer if ending_before else page.older
        body = b"".join(
            (
                b'{"object":"list","data":[',
                b",".join(coll.raw(p) for p in page.positions),
                b'],"has_more":',
                b"true" if has_more else b"false",
                b',"url":"/v1/',
                kind.encode(),
                b'"}',
            )
        )
        return json_response(body, headers={"Request-Id": "req_sandbox"})

    def retrieve(self, request: Request) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        kind, oid = request.path_params["kind"], request.path_params["oid"]
        if kind not in STRIPE_TYPES:
            return error(404, f"Unrecognized request URL (GET: /v1/{kind}/{oid}).")
        raw = self.state.store(entity).stripe(kind).get(oid)
        if raw is None:
            return error(404, f"No such {OBJECT_NAMES[kind]}: '{oid}'", code="resource_missing", param="id")
        return json_response(raw)

    def retrieve_created(self, request: Request) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        oid = request.path_params["oid"]
        obj = self.state.created_for(entity).objects.get(oid)
        if obj is None:
            return error(404, f"No such object: '{oid}'", code="resource_missing", param="id")
        return json_response(obj)

    async def create_payment_link(self, request: Request) -> Response:
        return await self._create(request, "plink", self._payment_link)

    async def create_checkout_session(self, request: Request) -> Response:
        return await self._create(request, "cs_test", self._checkout_session)

    async def _create(self, request: Request, prefix: str, build: Any) -> Response:
        entity = self.authenticate(request)
        if isinstance(entity, Response):
            return entity
        params = parse_form(await request.body())
        created = self.state.created_for(entity)
        key = request.headers.get("idempotency-key")
        digest = params_hash(params)
        if key:
            seen = created.idempotency.get((prefix, key, "stripe"))
            if seen is not None:
                if seen[0] != digest:
                    return error(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        "they were first used with. Try using a key other than "
                        f"'{key}' if you meant to execute a different request.",
                        type_="idempotency_error",
                    )
                return json_response(
                    created.objects[seen[1]], headers={"Idempotent-Replayed": "true", "Idempotency-Key": key}
                )
        bad = _validate_line_items(params)
        if bad:
            return error(400, bad, param="line_items")
        created.counter += 1
        oid = f"{prefix}_{entity}{created.counter:016d}"
        obj = build(oid, params)
        created.objects[oid] = obj
        if key:
            created.idempotency[(prefix, key, "stripe")] = (digest, oid)
        return json_response(obj, headers={"Idempotency-Key": key or ""})

    def _payment_link(self, oid: str, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": oid,
            "object": "payment_link",
            "active": True,
            "livemode": False,
            "currency": _currency(p),
            "metadata": p.get("metadata", {}),
            "after_completion": p.get("after_completion", {"type": "hosted_confirmation"}),
            "url": f"{self.state.base_url}/stripe/pay/{oid}",
            "payment_method_types": p.get("payment_method_types"),
        }

    def _checkout_session(self, oid: str, p: dict[str, Any]) -> dict[str, Any]:
        now = int(self.state.now())
        return {
            "id": oid,
            "object": "checkout.session",
            "livemode": False,
            "mode": p.get("mode", "payment"),
            "status": "open",
            "payment_status": "unpaid",
            "currency": _currency(p),
            "amount_total": _amount_total(p),
            "customer": p.get("customer"),
            "customer_email": p.get("customer_email"),
            "client_reference_id": p.get("client_reference_id"),
            "metadata": p.get("metadata", {}),
            "success_url": p.get("success_url"),
            "cancel_url": p.get("cancel_url"),
            "created": now,
            "expires_at": now + 86400,
            "url": f"{self.state.base_url}/stripe/checkout/{oid}",
            "payment_intent": None,
        }


def _validate_line_items(p: dict[str, Any]) -> str | None:
    items = p.get("line_items")
    if not isinstance(items, list) or not items:
        return "Missing required param: line_items."
    for item in items:
        if not isinstance(item, dict) or not (item.get("price") or item.get("price_data")):
            return "Each line item needs a price or price_data."
    return None


def _currency(p: dict[str, Any]) -> str | None:
    for item in p.get("line_items", []):
        if isinstance(item, dict) and isinstance(item.get("price_data"), dict):
            return str(item["price_data"].get("currency", "eur")).lower()
    return p.get("currency")


def _amount_total(p: dict[str, Any]) -> int | None:
    total = 0
    for item in p.get("line_items", []):
        data = item.get("price_data") if isinstance(item, dict) else None
        if not isinstance(data, dict) or "unit_amount" not in data:
            return None
        total += int(data["unit_amount"]) * int(item.get("quantity", 1))
    return total


def describe() -> str:
    return json.dumps(sorted(OBJECT_NAMES))
