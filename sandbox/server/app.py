"""The Starlette application: ``/stripe``, ``/gocardless`` and the ``/_sandbox`` control plane.

Faults are applied in front of both provider apps, in the provider's own error
format, before authentication — a real rate limiter answers before it looks at
your key.
"""

from __future__ import annotations

import json
from dataclasses import fields

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.server import gocardless_api, netsuite_api, sage_accounting_api, sap_b1_api, stripe_api
from sandbox.server.faults import FaultPlan
from sandbox.server.http import DroppedResponse, json_response
from sandbox.server.state import SandboxState


class FaultMiddleware:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        provider = next((p for p in ("stripe", "gocardless") if path.startswith(f"/{p}/")), None)
        action = self.state.faults.decide(provider, path) if provider else None
        if action is None:
            await self.app(scope, receive, send)
            return
        kind, value = action
        response: Response
        if kind == "drop":
            response = DroppedResponse()
        elif kind == "rate_limit":
            response = (stripe_api.rate_limited(float(value)) if provider == "stripe"
                        else gocardless_api.rate_limited(float(value)))
        else:
            response = (stripe_api.server_error(int(value)) if provider == "stripe"
                        else gocardless_api.server_error(int(value)))
        await response(scope, receive, send)


def build_app(state: SandboxState) -> ASGIApp:
    async def set_faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
            return json_response(state.faults.snapshot())
        if request.method == "GET":
            return json_response(state.faults.snapshot())
        payload = json.loads(await request.body() or b"{}")
        known = {f.name for f in fields(FaultPlan)}
        unknown = set(payload) - known
        if unknown:
            return json_response({"error": f"unknown fault keys {sorted(unknown)}; known: {sorted(known)}"}, 400)
        state.faults.set(**payload)
        return json_response(state.faults.snapshot())

    async def health(request: Request) -> Response:
        return json_response({"ok": True, "entities": sorted(set(state.stripe_keys.values()))})

    app = Starlette(routes=[
        Route("/_sandbox/faults", set_faults, methods=["GET", "POST", "DELETE"]),
        Route("/_sandbox/health", health, methods=["GET"]),
        Mount("/stripe", routes=stripe_api.StripeAPI(state).routes()),
        Mount("/gocardless", routes=gocardless_api.GoCardlessAPI(state).routes()),
        Mount("/sage", routes=sage_accounting_api.SageAccountingAPI(state).routes()),  # ERP APIs fault themselves
        Mount("/netsuite", routes=netsuite_api.NetSuiteAPI(state).routes()),
        Mount("/b1s", routes=sap_b1_api.SapB1API(state).routes()),
    ])
    return FaultMiddleware(app, state)
