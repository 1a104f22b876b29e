"""The official ``gocardless_pro`` SDK, wrapped where a resumable sync needs more.

Gaps are filled by a small ``ApiClient`` subclass, everything else is the SDK:

- ``urljoin`` drops a base URL's path (``http://host/gocardless`` + ``/payments``
  becomes ``http://host/payments``); we append instead, so a proxy or the
  sandbox can serve the API under a prefix;
- API errors carry no HTTP headers, so ``ratelimit-reset`` could not be honoured;
  we attach ``status_code`` and ``response_headers`` to the raised error;
- one ``requests.Session`` is reused (the SDK opens a connection per request),
  with the environment's proxy settings resolved once;
- a page is parsed once, with orjson: the SDK parses each answer three times
  (error check, then ``body`` twice) and wraps every record in a resource object
  that we would only turn back into the dict the API sent — together most of
  the extract time. List pages therefore go through the SDK's ``ApiClient`` (auth,
  version header, rate-limit bookkeeping, error mapping) but not its services.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import gocardless_pro
import orjson
import pyarrow as pa
import requests
from gocardless_pro import errors as gc_errors
from gocardless_pro.api_client import ApiClient
from gocardless_pro.rate_limit import update_rate_limit

from connectors._arrow import oldest_first
from connectors._http import RetryPolicy, call_with_retries, resolved_session
from connectors.gocardless import settings
from connectors.gocardless.retry import classify
from lettrage.logging import register_secret

log = logging.getLogger("lettrage.connectors.gocardless")


class _ApiClient(ApiClient):
    def __init__(self, base_url: str, access_token: str, timeout: float) -> None:
        super().__init__(base_url.rstrip("/"), access_token, timeout=timeout)
        self._session = resolved_session(self.base_url)

    def _url_for(self, path: str) -> str:
        return self.base_url + self._validate_path(path)

    @update_rate_limit
    def get(self, path: str, params: Any = None, headers: Any = None) -> requests.Response:
        response = self._session.get(
            self._url_for(path), params=params, headers=self._headers(headers), timeout=self.timeout
        )
        self._handle_errors(response)
        return response

    def _handle_errors(self, response: requests.Response) -> None:
        if response.status_code < 400:  # success: parsed once, by ``body`` below, not here too
            return
        try:
            super()._handle_errors(response)
        except gc_errors.GoCardlessProError as exc:
            exc.status_code = response.status_code  # type: ignore[attr-defined]
            exc.response_headers = dict(response.headers)  # type: ignore[attr-defined]
            raise


def body(response: requests.Response) -> dict[str, Any]:
    """The JSON object of a successful answer; a proxy's HTML or a cut body is a malformed response."""
    try:
        parsed = orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        raise gc_errors.MalformedResponseError(
            "Malformed response received from server", response.text[:300], response.status_code
        ) from exc
    if not isinstance(parsed, dict):
        raise gc_errors.MalformedResponseError(
            "Malformed response received from server", response.text[:300], response.status_code
        )
    return parsed


class GoCardlessApi:
    """List endpoints of one GoCardless creditor, page by page, each page retried on its own."""

    def __init__(
        self,
        access_token: str,
        base_url: str | None = None,
        *,
        policy: RetryPolicy | None = None,
        page_size: int = settings.PAGE_SIZE,
        environment: str = "live",
    ) -> None:
        register_secret(access_token)
        self.policy = policy or RetryPolicy()
        self.page_size = page_size
        self.client = gocardless_pro.Client(
            access_token=access_token,
            base_url=base_url,
            environment=environment,
            timeout=settings.REQUEST_TIMEOUT_S,
        )
        self.base_url = self.client._api_client.base_url.rstrip("/")
        self.http = _ApiClient(self.base_url, access_token, settings.REQUEST_TIMEOUT_S)
        self.client._api_client = self.http
        self.requests = 0

    def pages(self, endpoint: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """Every page of ``GET /<endpoint>`` with ``params``, in API order, as raw dicts."""
        path = "/" + settings.ENDPOINTS[endpoint]
        cursor: str | None = None
        while True:
            query = {**params, "limit": self.page_size}
            if cursor:
                query["after"] = cursor

            def fetch(q: dict[str, Any] = query) -> dict[str, Any]:
                self.requests += 1
                return body(self.http.get(path, params=q))

            page = call_with_retries(
                fetch,
                endpoint=f"{self.base_url}/{endpoint}",
                cursor=cursor,
                classify=classify,
                policy=self.policy,
            )
            rows: list[dict[str, Any]] = page[endpoint]
            if rows:
                yield rows
            cursor = ((page.get("meta") or {}).get("cursors") or {}).get("after")
            if not cursor or not rows:
                return

    def get(self, endpoint: str, oid: str) -> dict[str, Any]:
        """One object by id (``GET /<endpoint>/<id>``), as the raw dict the API sent."""
        service = getattr(self.client, settings.ENDPOINTS[endpoint])
        service.max_network_retries = 1

        def fetch() -> Any:
            self.requests += 1
            return service.get(oid)

        resource = call_with_retries(
            fetch,
            endpoint=f"{self.base_url}/{endpoint}/{oid}",
            cursor=oid,
            classify=classify,
            policy=self.policy,
        )
        return dict(resource.attributes)

    def list_window(self, endpoint: str, gte: str, lt: str | None, **filters: Any) -> pa.Table:
        """All objects with ``created_at`` in ``[gte, lt)``, oldest first (the API answers newest first), as raw Arrow.

        Each page becomes a table as it arrives (:func:`connectors._arrow.oldest_first`).
        """
        params: dict[str, Any] = {"created_at[gte]": gte, **filters}
        if lt is not None:
            params["created_at[lt]"] = lt
        return oldest_first(self.pages(endpoint, params))
