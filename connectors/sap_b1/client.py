"""Service Layer reads over httpx: OData ``@odata.nextLink`` paging, session auth, retries.

Money arrives as JSON numbers; the body is parsed with ``parse_float=Decimal`` so
no amount ever becomes a float.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin

import httpx

from connectors._http import HttpFailure, RetryPolicy, call_with_retries, classify_http
from connectors.sap_b1 import settings
from connectors.sap_b1.auth import B1SessionAuth


class ODataNextLinkPaginator:
    """Follows ``@odata.nextLink`` (relative to the service root, as B1 writes it)."""

    def __init__(self, api_root: str) -> None:
        self.api_root = api_root.rstrip("/") + "/"
        self.next_url: str | None = None

    def update(self, body: dict[str, Any]) -> None:
        nxt = body.get("@odata.nextLink")
        self.next_url = urljoin(self.api_root, nxt) if nxt else None


class B1Client:
    def __init__(self, base_url: str, company_db: str, user: str, password: str, *,
                 policy: RetryPolicy | None = None, page_size: int = settings.PAGE_SIZE, entity: str = "<ENTITY>") -> None:
        self.api_root = base_url.rstrip("/") + settings.API_PATH
        self.auth = B1SessionAuth(self.api_root, company_db, user, password, entity=entity)
        self.policy = policy or RetryPolicy()
        self.page_size = page_size
        self.http = httpx.Client(auth=self.auth, timeout=settings.TIMEOUT_S,
                                 headers={"Prefer": f"odata.maxpagesize={page_size}"})

    def _get(self, url: str, params: dict[str, str] | None) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            try:
                r = self.http.get(url, params=params)
            except httpx.HTTPStatusError as exc:  # a 429/5xx while logging in
                r = exc.response
            if r.status_code >= 400:
                raise HttpFailure(str(r.url), r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.text)
            return json.loads(r.content, parse_float=Decimal)  # type: ignore[no-any-return]

        return call_with_retries(call, endpoint=f"sap_b1 {url}", cursor=str(params or ""), classify=classify_http,
                                 policy=self.policy)

    def pages(self, collection: str, since_day: str | None) -> Iterator[list[dict[str, Any]]]:
        filters = [f"UpdateDate ge '{since_day}'"] if since_day else []
        if collection in settings.EXTRA_FILTER:
            filters.append(settings.EXTRA_FILTER[collection])
        params: dict[str, str] | None = {"$orderby": settings.ORDER[collection]}
        if filters:
            assert params is not None
            params["$filter"] = " and ".join(filters)
        paginator = ODataNextLinkPaginator(self.api_root)
        url: str | None = f"{self.api_root}/{collection}"
        while url:
            body = self._get(url, params)
            yield list(body.get("value") or [])
            paginator.update(body)
            url, params = paginator.next_url, None

    def close(self) -> None:
        self.http.close()
