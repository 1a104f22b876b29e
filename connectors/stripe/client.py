"""The official Stripe SDK, wrapped only where it lacks what a resumable sync needs.

``stripe.StripeClient`` does the HTTP, auth, query encoding and error mapping;
its own retries are off (``max_network_retries=0``) so that one policy
(``connectors._http``) decides. Lists go through ``StripeClient.raw_request``:
same requestor, same errors, but the page stays the JSON the API sent — which is
exactly what ``raw_stripe_*`` stores — instead of being turned into a
``StripeObject`` per row and back (that conversion was ~60% of extract time).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import stripe

from connectors._http import RetryPolicy, call_with_retries
from connectors.stripe import settings
from connectors.stripe.retry import classify
from lettrage.logging import register_secret

log = logging.getLogger("lettrage.connectors.stripe")


class StripeApi:
    """List endpoints of one Stripe account, page by page, each page retried on its own."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        *,
        policy: RetryPolicy | None = None,
        page_size: int = settings.PAGE_SIZE,
    ) -> None:
        register_secret(api_key)
        self.base_url = (base_url or stripe.DEFAULT_API_BASE).rstrip("/")
        self.policy = policy or RetryPolicy()
        self.page_size = page_size
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": self.base_url},
            max_network_retries=0,
            http_client=stripe.RequestsClient(timeout=settings.REQUEST_TIMEOUT_S),
        )
        self.requests = 0

    def pages(self, endpoint: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of ``GET /v1/<endpoint>`` with ``params``, newest first, as raw dicts."""
        path = f"/v1/{settings.ENDPOINTS[endpoint]}"
        cursor: str | None = None
        while True:
            query = {**params, "limit": self.page_size}
            if cursor:
                query["starting_after"] = cursor

            def fetch(q: dict[str, Any] = query) -> Any:
                self.requests += 1
                return self.client.raw_request("get", path, **q)

            page = call_with_retries(
                fetch,
                endpoint=f"{self.base_url}/v1/{endpoint}",
                cursor=cursor,
                classify=classify,
                policy=self.policy,
            )
            body = page.data
            rows: list[dict[str, Any]] = body["data"]
            if rows:
                yield rows
            if not body.get("has_more") or not rows:
                return
            cursor = rows[-1]["id"]

    def list_window(self, endpoint: str, gte: int, lt: int | None, **filters: Any) -> list[dict[str, Any]]:
        """All objects created in ``[gte, lt)``, oldest first (the API answers newest first)."""
        params: dict[str, Any] = {"created": {"gte": gte}, **filters}
        if lt is not None:
            params["created"]["lt"] = lt
        rows = [row for page in self.pages(endpoint, params) for row in page]
        rows.reverse()
        return rows
