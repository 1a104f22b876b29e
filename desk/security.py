"""Passwords, signed session cookies, CSRF tokens and login throttling — stdlib only.

Why no third-party session library: the desk needs four small things (a password
hash, an HMAC-signed cookie, a per-session CSRF token, a failure counter) and each
is a few lines over ``hashlib``/``hmac``/``secrets``; fewer dependencies, nothing
to misconfigure. Passwords use scrypt (memory-hard, in the standard library);
the stored string carries its parameters so they can be raised later.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
SESSION_SECONDS = 8 * 3600


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64): the parameters travel with the hash."""
    if not password:
        raise ValueError("empty password")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str | None) -> bool:
    """Constant-time check; an unknown or malformed hash never verifies."""
    if not stored or not password:
        return False
    try:
        algo, n, r, p, salt, digest = stored.split("$")
        if algo != "scrypt":
            return False
        want = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# A hash to verify against when the user does not exist, so timing does not reveal which names exist.
DUMMY_HASH = hash_password("not-a-password", salt=b"\0" * 16)


class Signer:
    """HMAC-SHA256 signed, base64url JSON payloads with an expiry: the session cookie."""

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the desk secret must be at least 16 characters")
        self._key = hashlib.sha256(b"lettrage-desk-session:" + key).digest()

    def _mac(self, body: bytes) -> str:
        return base64.urlsafe_b64encode(hmac.new(self._key, body, hashlib.sha256).digest()).decode().rstrip("=")

    def dumps(self, payload: dict[str, Any], max_age: int = SESSION_SECONDS) -> str:
        data = dict(payload, exp=int(time.time()) + max_age)
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._mac(body.encode())}"

    def loads(self, token: str | None) -> dict[str, Any] | None:
        """The payload, or None when the token is missing, forged or expired."""
        if not token or "." not in token:
            return None
        body, mac = token.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(data, dict) or int(data.get("exp", 0)) < time.time():
            return None
        return data


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


@dataclass
class Throttle:
    """Failed sign-ins per key (user name and client address) in a sliding window.

    In memory, per process: enough for one desk process; the per-user lock is
    also written to ``desk_user.locked_until`` so it holds across processes.
    """

    max_failures: int = MAX_FAILURES
    window_s: float = LOCK_SECONDS
    _fails: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._fails.get(key, []) if now - t < self.window_s]

    def blocked(self, *keys: str) -> bool:
        now = time.time()
        with self._lock:
            return any(len(self._recent(k, now)) >= self.max_failures for k in keys)

    def fail(self, *keys: str) -> int:
        """Record a failure; returns the highest count among the keys."""
        now = time.time()
        with self._lock:
            counts = []
            for key in keys:
                recent = self._recent(key, now) + [now]
                self._fails[key] = recent
                counts.append(len(recent))
            return max(counts, default=0)

    def reset(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._fails.pop(key, None)
