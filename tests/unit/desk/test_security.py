"""Passwords, signed cookies, CSRF comparison and the failure counter."""

from __future__ import annotations

import time

import pytest

from desk.security import Signer, Throttle, csrf_ok, hash_password, verify_password


def test_password_hash_verifies_and_carries_its_parameters() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert hash_password("correct horse") != stored  # salted


@pytest.mark.parametrize("stored", [None, "", "plain", "md5$x$y$z$a$b", "scrypt$16384$8$1$!!$!!"],
                         ids=["none", "empty", "plain", "other-algorithm", "garbage"])
def test_malformed_hashes_never_verify(stored: str | None) -> None:
    assert not verify_password("anything", stored)


def test_signer_round_trip_and_tampering() -> None:
    signer = Signer("k" * 32)
    token = signer.dumps({"u": "alice", "c": "tok"})
    assert signer.loads(token)["u"] == "alice"
    body, mac = token.rsplit(".", 1)
    assert signer.loads(body + "." + mac[:-1] + ("A" if mac[-1] != "A" else "B")) is None
    forged = Signer("x" * 32).dumps({"u": "admin"})
    assert signer.loads(forged) is None
    assert signer.loads(None) is None and signer.loads("nodot") is None


def test_signer_expiry() -> None:
    signer = Signer("k" * 32)
    assert signer.loads(signer.dumps({"u": "a"}, max_age=-1)) is None


def test_short_secret_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        Signer("short")


@pytest.mark.parametrize(("expected", "given", "ok"), [
    ("abc", "abc", True), ("abc", "abd", False), ("abc", None, False), (None, None, False), ("", "", False),
], ids=["same", "different", "missing", "no-session", "empty"])
def test_csrf_comparison(expected: str | None, given: str | None, ok: bool) -> None:
    assert csrf_ok(expected, given) is ok


def test_throttle_blocks_after_max_failures_and_forgets_after_the_window() -> None:
    throttle = Throttle(max_failures=5, window_s=0.2)
    for _ in range(4):
        throttle.fail("alice")
    assert not throttle.blocked("alice")
    throttle.fail("alice")
    assert throttle.blocked("alice") and not throttle.blocked("bob")
    time.sleep(0.25)
    assert not throttle.blocked("alice")
    throttle.fail("bob")
    throttle.reset("bob")
    assert not throttle.blocked("bob")
