"""OAuth 1.0a token-based authentication (TBA) for NetSuite, HMAC-SHA256, as an ``httpx.Auth``.

RFC 5849: the signature base string is ``METHOD&enc(base URL)&enc(sorted, encoded
parameters)`` where the parameters are the ``oauth_*`` values plus the query string
(the JSON body is not signed); the key is ``enc(consumer secret)&enc(token secret)``.
NetSuite wants ``realm`` set to the account id (upper case, ``_SB1`` kept) and never
signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator
from urllib.parse import parse_qsl, quote

import httpx


def percent(value: str) -> str:
    return quote(value, safe="~-._")


def base_string(method: str, url: str, params: list[tuple[str, str]]) -> str:
    normalized = "&".join(f"{k}={v}" for k, v in sorted((percent(k), percent(v)) for k, v in params))
    return "&".join((method.upper(), percent(url), percent(normalized)))


def sign(base: str, consumer_secret: str, token_secret: str, digest: str = "sha256") -> str:
    """HMAC over the base string; ``digest="sha1"`` only so RFC 5849's published example can be checked."""
    key = f"{percent(consumer_secret)}&{percent(token_secret)}".encode()
    return base64.b64encode(hmac.new(key, base.encode(), getattr(hashlib, digest)).digest()).decode()


class NetSuiteOAuth1(httpx.Auth):
    """Signs every request; ``clock``/``nonce`` are injectable so a test can check a known vector."""

    def __init__(self, account_id: str, consumer_key: str, consumer_secret: str, token_id: str, token_secret: str,
                 *, clock: Callable[[], float] = time.time, nonce: Callable[[], str] = lambda: secrets.token_hex(16)):
        self.realm, self.consumer_key, self.consumer_secret = account_id, consumer_key, consumer_secret
        self.token_id, self.token_secret, self.clock, self.nonce = token_id, token_secret, clock, nonce

    def header(self, method: str, url: httpx.URL) -> str:
        oauth = {"oauth_consumer_key": self.consumer_key, "oauth_token": self.token_id,
                 "oauth_signature_method": "HMAC-SHA256", "oauth_timestamp": str(int(self.clock())),
                 "oauth_nonce": self.nonce(), "oauth_version": "1.0"}
        params = list(oauth.items()) + parse_qsl(url.query.decode(), keep_blank_values=True)
        base_url = f"{url.scheme}://{url.netloc.decode().lower()}{url.path}"
        oauth["oauth_signature"] = sign(base_string(method, base_url, params), self.consumer_secret, self.token_secret)
        fields = ", ".join(f'{k}="{percent(v)}"' for k, v in oauth.items())
        return f'OAuth realm="{self.realm}", {fields}'

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.header(request.method, request.url)
        yield request
