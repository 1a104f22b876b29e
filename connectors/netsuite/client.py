"""SuiteQL over httpx: OAuth 1.0a, offset paging inside a key range, a semaphore for the account's concurrency.

Why key ranges: one SuiteQL query reaches at most 100,000 rows by offset, so each
walk asks ``... AND id > :last ORDER BY id`` and, when a query's offsets run out,
starts a new one after the last id seen. Why a semaphore: the account's
concurrency limit is shared with every integration; going over it is a 429.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx

from connectors._http import HttpFailure, RetryPolicy, call_with_retries, classify_http
from connectors.netsuite import settings
from connectors.netsuite.auth import NetSuiteOAuth1


class KeyRangePaginator:
    """Offset pages of one query; when the next offset would pass the cap, a new query after the last key."""

    def __init__(self, limit: int, cap: int, key: str = "id") -> None:
        self.limit, self.cap, self.key = limit, cap, key
        self.offset, self.after, self.done = 0, 0, False

    def update(self, body: dict[str, Any]) -> None:
        items = body.get("items") or []
        if items:
            last = int(items[-1][self.key])
        if not body.get("hasMore"):
            self.done = True
        elif self.offset + 2 * self.limit > self.cap:
            self.after, self.offset = last, 0  # a fresh query, keyed after the last row seen
        else:
            self.offset += self.limit


class NetSuiteClient:
    def __init__(self, auth: NetSuiteOAuth1, base_url: str | None = None, *, policy: RetryPolicy | None = None,
                 page_limit: int = settings.PAGE_LIMIT, row_cap: int = settings.QUERY_ROW_CAP,
                 concurrency: int = settings.CONCURRENCY) -> None:
        self.url = (base_url or settings.live_base_url(auth.realm)).rstrip("/") + settings.SUITEQL_PATH
        self.policy = policy or RetryPolicy()
        self.page_limit, self.row_cap = min(page_limit, settings.PAGE_LIMIT), row_cap
        self.slots = threading.BoundedSemaphore(concurrency)
        self.concurrency = concurrency
        self.http = httpx.Client(auth=auth, timeout=settings.TIMEOUT_S,
                                 headers={"Prefer": "transient", "Content-Type": "application/json"})
        self.requests = 0

    def query_page(self, q: str, limit: int, offset: int) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            with self.slots:
                self.requests += 1
                r = self.http.post(self.url, params={"limit": limit, "offset": offset}, json={"q": q})
            if r.status_code >= 400:
                raise HttpFailure(f"{self.url}?limit={limit}&offset={offset}", r.status_code,
                                  {k.lower(): v for k, v in r.headers.items()}, r.text)
            return r.json()  # type: ignore[no-any-return]

        return call_with_retries(call, endpoint="netsuite suiteql", cursor=f"offset={offset} q={q[:120]}",
                                 classify=classify_http, policy=self.policy)

    def walk(self, template: str) -> Iterator[list[dict[str, Any]]]:
        """Pages of ``template`` (which has an ``{after}`` placeholder for the key range), in key order."""
        pager = KeyRangePaginator(self.page_limit, self.row_cap)
        while not pager.done:
            body = self.query_page(template.format(after=pager.after), self.page_limit, pager.offset)
            items = [{k: v for k, v in it.items() if k != "links"} for it in body.get("items") or []]
            if items:
                yield items
            pager.update(body)

    def all_rows(self, q: str) -> list[dict[str, Any]]:
        """A small lookup table (currencies, terms) in one or a few pages."""
        out: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self.query_page(q, self.page_limit, offset)
            out += [{k: v for k, v in it.items() if k != "links"} for it in body.get("items") or []]
            if not body.get("hasMore"):
                return out
            offset += self.page_limit

    def close(self) -> None:
        self.http.close()
