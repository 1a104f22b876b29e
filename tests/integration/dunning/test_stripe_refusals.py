"""How Stripe's answers to a pay-now link request become Lettrage's errors (a local HTTP server plays Stripe)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from actions.dunning.providers import StripePayLinks
from lettrage.errors import PermanentSourceError, TransientSourceError


def _stripe_answering(status: int) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"error": {"type": "invalid_request_error" if status < 500 else "api_error",
                                         "message": "no Payment Links on this account"}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(params=[400, 503])
def stripe_refusing(request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    for url in _stripe_answering(request.param):
        yield request.param, url


def test_a_refused_link_is_permanent_and_a_server_error_transient(stripe_refusing: tuple[int, str]) -> None:
    status, url = stripe_refusing
    links = StripePayLinks("sk_test_local", url)
    expected = PermanentSourceError if status == 400 else TransientSourceError
    with pytest.raises(expected, match="payment link for M1"):
        links.create(message_id="M1", entity="FR01", customer_id="C1", invoice_numbers=["FA-1"],
                     amount=Decimal("10.00"), currency="EUR", description="Client: FA-1")
