"""Sage Accounting v3.1 over httpx: bearer token, ``$next`` paging, retries through ``connectors._http``.

httpx rather than dlt's RESTClient: one retry policy (tenacity, ``Retry-After``)
shared with the other connectors, and money parsed from decimal strings without
ever passing through a float.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import httpx

from connectors._http import HttpFailure, RetryPolicy, call_with_retries, classify_http
from connectors.sage_accounting import settings


class SageNextPaginator:
    """Follows Sage's ``$next`` (a path relative to the API root) until it is ``null``."""

    def __init__(self, api_root: str) -> None:
        self.api_root = api_root.rstrip("/")
        self.next_url: str | None = None

    def update(self, body: dict[str, Any]) -> None:
        nxt = body.get("$next")
        self.next_url = urljoin(self.api_root + "/", nxt.lstrip("/")) if nxt else None

    @property
    def has_next(self) -> bool:
        return self.next_url is not None


class SageClient:
    def __init__(self, access_token: str, base_url: str | None = None, *, policy: RetryPolicy | None = None,
                 page_size: int = settings.ITEMS_PER_PAGE) -> None:
        root = (base_url.rstrip("/") + settings.API_PATH) if base_url else settings.BASE_URL
        self.api_root = root
        self.policy = policy or RetryPolicy()
        self.page_size = min(page_size, settings.ITEMS_PER_PAGE)
        self.http = httpx.Client(headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                                 timeout=settings.TIMEOUT_S)

    def _get(self, url: str, params: dict[str, Any] | None) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            r = self.http.get(url, params=params)
            if r.status_code >= 400:
                raise HttpFailure(str(r.url), r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text)
            return r.json()  # type: ignore[no-any-return]

        return call_with_retries(call, endpoint=f"sage_accounting {url}", cursor=str(params or ""),
                                 classify=classify_http, policy=self.policy)

    def pages(self, resource: str, since: str | None) -> Iterator[list[dict[str, Any]]]:
        """Every page of ``resource`` changed since ``since`` (Sage's ``updated_or_created_since``)."""
        paginator = SageNextPaginator(self.api_root)
        params: dict[str, Any] | None = {"items_per_page": self.page_size, "page": 1, **settings.LIST_PARAMS}
        if since:
            assert params is not None
            params["updated_or_created_since"] = since
        url: str | None = f"{self.api_root}/{resource}"
        while url:
            body = self._get(url, params)
            yield list(body.get("$items") or [])
            paginator.update(body)
            # ($next repeats the query it was given; should it drop the attributes, they are asked again)
            url = paginator.next_url
            params = ({k: v for k, v in settings.LIST_PARAMS.items() if f"{k}=" not in url} or None) if url else None

    def close(self) -> None:
        self.http.close()
