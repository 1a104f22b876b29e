"""The official Stripe SDK, wrapped only where it lacks what a resumable sync needs.

``stripe.StripeClient`` does the HTTP, auth, query encoding and error mapping;
its own retries are off (``max_network_retries=0``) so that one policy
(``connectors._http``) decides. Lists go through the requestor behind
``StripeClient.raw_request`` (same auth, headers, encoding and error mapping), but
the page stays the JSON the API sent — which is exactly what ``raw_stripe_*``
stores — instead of being turned into a ``StripeObject`` per row and back (that
conversion was ~60% of extract time). A successful page is parsed with orjson
(3x the stdlib's speed); any other answer goes to the SDK's own interpretation,
so errors are the SDK's errors. The transport is the SDK's ``HTTPClient``
interface over urllib3 (which ``requests`` itself sits on): ``requests`` added
a quarter of a millisecond of CPU to every request -- re-reading proxy settings,
preparing, hooks, cookies -- and a Stripe sync is thousands of small requests
(one listing per payout). Proxy settings are read from the environment once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, cast

import orjson
import pyarrow as pa
import requests
import stripe
import urllib3

from connectors._arrow import oldest_first
from connectors._http import RetryPolicy, call_with_retries
from connectors.stripe import settings
from connectors.stripe.retry import classify
from lettrage.logging import register_secret

log = logging.getLogger("lettrage.connectors.stripe")


class Urllib3Client(stripe.HTTPClient):
    """The Stripe SDK's transport over one urllib3 pool: its CA bundle, no retries of its own.

    Connection failures become the SDK's ``APIConnectionError`` (retryable, as the SDK's
    own requests client decides, except certificate errors), so ``retry.classify`` and
    the retry policy see exactly what they saw with ``stripe.RequestsClient``.
    """

    name = "urllib3"

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(verify_ssl_certs=True)
        proxy = requests.utils.select_proxy(base_url, requests.utils.get_environ_proxies(base_url))
        options: dict[str, Any] = {
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": stripe.ca_bundle_path,
            "timeout": urllib3.Timeout(total=timeout),
            "retries": False,
        }
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def request(  # type: ignore[override]  # bytes, as the SDK's own RequestsClient returns despite its stub
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        try:
            response = self._pool.request(method.upper(), url, headers=dict(headers or {}), body=post_data)
        except urllib3.exceptions.HTTPError as exc:
            should_retry = not isinstance(exc, urllib3.exceptions.SSLError)
            raise stripe.APIConnectionError(
                f"Network error talking to Stripe: {type(exc).__name__}: {exc}", should_retry=should_retry
            ) from exc
        return response.data, response.status, response.headers

    def request_stream(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[Any, int, Mapping[str, str]]:
        """Streaming is never used by this connector (file downloads are); say so rather than half-do it."""
        raise NotImplementedError("the Stripe connector does not stream responses")

    def close(self) -> None:
        self._pool.clear()


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
            http_client=Urllib3Client(self.base_url, settings.REQUEST_TIMEOUT_S),
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

            def fetch(q: dict[str, Any] = query) -> dict[str, Any]:
                self.requests += 1
                return self._get_json(path, q)

            page = call_with_retries(
                fetch,
                endpoint=f"{self.base_url}/v1/{endpoint}",
                cursor=cursor,
                classify=classify,
                policy=self.policy,
            )
            rows: list[dict[str, Any]] = page["data"]
            if rows:
                yield rows
            if not page.get("has_more") or not rows:
                return
            cursor = rows[-1]["id"]

    def _get_json(self, path: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET path`` as ``raw_request`` sends it; the JSON object of a 2xx, else the SDK's error."""
        requestor = self.client._requestor
        body, code, headers = requestor.request_raw(
            "get", path, params=params, options={}, base_address="api", api_mode="V1", usage=["raw_request"]
        )
        if 200 <= code < 300:
            try:
                parsed = orjson.loads(body)  # type: ignore[arg-type]
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, dict):
                return parsed
        answer = requestor._interpret_response(body, code, headers, "V1").data  # raises for errors
        return cast(dict[str, Any], answer)

    def list_window(self, endpoint: str, gte: int, lt: int | None, **filters: Any) -> pa.Table:
        """All objects created in ``[gte, lt)``, oldest first (the API answers newest first), as raw Arrow.

        Each page becomes a table as it arrives (:func:`connectors._arrow.oldest_first`).
        """
        params: dict[str, Any] = {"created": {"gte": gte}, **filters}
        if lt is not None:
            params["created"]["lt"] = lt
        return oldest_first(self.pages(endpoint, params))
