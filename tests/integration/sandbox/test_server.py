"""The provider sandbox over real HTTP: Stripe and GoCardless wire formats, auth, faults, creates, CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import stripe

from connectors.gocardless.client import GoCardlessApi
from sandbox.server import RunningSandbox, serve
from sandbox.server.tiny_world import write_tiny_world

SK = "sk_test_sandbox_FR01"
GC = "sandbox_FR01_token"
GC_HEADERS = {"Authorization": f"Bearer {GC}", "GoCardless-Version": "2015-07-06"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("server_world")
    write_tiny_world(root, n_charges=45, n_payments=45)
    return root


@pytest.fixture(scope="module")
def server(world: Path) -> Iterator[RunningSandbox]:
    with serve(world) as sandbox:
        yield sandbox


@pytest.fixture
def sb(server: RunningSandbox) -> Iterator[RunningSandbox]:
    server.faults.clear()
    yield server
    server.faults.clear()


@pytest.fixture
def http(sb: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sb.url, timeout=10) as client:
        yield client


def rows(world: Path, provider: str, kind: str) -> list[dict]:
    text = (world / "FR01" / provider / f"{kind}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def newest_first(objs: list[dict], key: str = "created") -> list[str]:
    return [o["id"] for o in sorted(objs, key=lambda o: (o[key], o["id"]), reverse=True)]


# --- Stripe -------------------------------------------------------------------------------------------------


def stripe_get(http: httpx.Client, path: str, **params: object) -> httpx.Response:
    return http.get(f"/stripe{path}", params=params, headers={"Authorization": f"Bearer {SK}"})


def test_stripe_list_envelope_default_limit_and_newest_first(http: httpx.Client, world: Path) -> None:
    body = stripe_get(http, "/v1/charges").json()
    assert set(body) == {"object", "url", "has_more", "data"}
    assert (body["object"], body["url"], body["has_more"]) == ("list", "/v1/charges", True)
    assert [c["id"] for c in body["data"]] == newest_first(rows(world, "stripe", "charges"))[:10]


@pytest.mark.parametrize(
    ("limit", "status"),
    [(0, 400), (101, 400), ("x", 400), (1, 200), (100, 200)],
    ids=["zero", "over-100", "not-int", "one", "hundred"],
)
def test_stripe_limit_bounds(http: httpx.Client, limit: object, status: int) -> None:
    response = stripe_get(http, "/v1/charges", limit=limit)
    assert response.status_code == status
    if status == 400:
        assert response.json()["error"]["type"] == "invalid_request_error"
        assert response.json()["error"]["param"] == "limit"


def test_stripe_cursors_walk_both_ways_without_gaps(http: httpx.Client, world: Path) -> None:
    want = newest_first(rows(world, "stripe", "charges"))
    got, cursor = [], None
    while True:
        params = {"limit": 7, **({"starting_after": cursor} if cursor else {})}
        body = stripe_get(http, "/v1/charges", **params).json()
        got += [c["id"] for c in body["data"]]
        if not body["has_more"]:
            break
        cursor = body["data"][-1]["id"]
    assert got == want
    back = stripe_get(http, "/v1/charges", limit=5, ending_before=want[20]).json()
    assert [c["id"] for c in back["data"]] == want[15:20] and back["has_more"] is True


def test_stripe_created_filters_and_payout_filter(http: httpx.Client, world: Path) -> None:
    charges = rows(world, "stripe", "charges")
    t = sorted(c["created"] for c in charges)[20]
    cases = {
        "created[gte]": lambda c: c >= t,
        "created[gt]": lambda c: c > t,
        "created[lte]": lambda c: c <= t,
        "created[lt]": lambda c: c < t,
    }
    for param, keep in cases.items():
        body = stripe_get(http, "/v1/charges", limit=100, **{param: t}).json()
        assert sorted(c["id"] for c in body["data"]) == sorted(
            c["id"] for c in charges if keep(c["created"])
        ), param
    bts = rows(world, "stripe", "balance_transactions")
    payout = next(b["_payout"] for b in bts if b.get("_payout"))
    body = stripe_get(http, "/v1/balance_transactions", payout=payout, limit=100).json()
    assert sorted(b["id"] for b in body["data"]) == sorted(b["id"] for b in bts if b.get("_payout") == payout)
    assert all(not k.startswith("_") for b in body["data"] for k in b)  # sandbox-only keys never leave


def test_stripe_events_filter_by_type(http: httpx.Client, world: Path) -> None:
    body = stripe_get(http, "/v1/events", type="charge.succeeded", limit=100).json()
    assert len(body["data"]) == len(rows(world, "stripe", "events"))
    assert stripe_get(http, "/v1/events", type="payout.paid").json()["data"] == []


def test_stripe_retrieve_and_missing_object(http: httpx.Client, world: Path) -> None:
    charge = rows(world, "stripe", "charges")[3]
    assert stripe_get(http, f"/v1/charges/{charge['id']}").json() == charge
    missing = stripe_get(http, "/v1/charges/ch_nope")
    assert missing.status_code == 404
    assert missing.json()["error"] == {
        "type": "invalid_request_error",
        "message": "No such charge: 'ch_nope'",
        "code": "resource_missing",
        "param": "id",
    }


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (f"Bearer {SK}", 200),
        ("Basic " + base64.b64encode(f"{SK}:".encode()).decode(), 200),
        ("Bearer sk_test_wrong_key_0000", 401),
        (None, 401),
    ],
    ids=["bearer", "basic", "wrong-key", "no-key"],
)
def test_stripe_auth(http: httpx.Client, header: str | None, status: int) -> None:
    response = http.get("/stripe/v1/customers", headers={"Authorization": header} if header else {})
    assert response.status_code == status
    if status == 401:
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and "api key" in error["message"].lower()
        assert "sk_test_wrong_key_0000" not in error["message"]  # masked like Stripe does


def test_stripe_keys_are_scoped_to_their_entity(http: httpx.Client) -> None:
    de = http.get(
        "/stripe/v1/charges", params={"limit": 1}, headers={"Authorization": "Bearer sk_test_sandbox_DE01"}
    ).json()
    assert de["data"][0]["id"].startswith("ch_de01")


def test_stripe_payment_link_and_checkout_session_honour_idempotency_keys(sb: RunningSandbox) -> None:
    client = stripe.StripeClient(SK, base_addresses={"api": sb.stripe_base}, max_network_retries=0)
    params = {
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 12_345,
                    "product_data": {"name": "FA-2025-000001"},
                },
                "quantity": 2,
            }
        ],
        "mode": "payment",
        "success_url": "https://example.com/ok",
        "metadata": {"invoice_number": "FA-1"},
    }
    first = client.v1.checkout.sessions.create(params, {"idempotency_key": "dun-FA-1"})
    again = client.v1.checkout.sessions.create(params, {"idempotency_key": "dun-FA-1"})
    assert first.id == again.id and first.amount_total == 24_690 and first.url.startswith(sb.url)
    assert again.last_response.headers.get("Idempotent-Replayed") == "true"
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create({**params, "mode": "setup"}, {"idempotency_key": "dun-FA-1"})
    link = client.v1.payment_links.create(
        {"line_items": [{"price": "price_1", "quantity": 1}], "metadata": {"invoice_number": "FA-2"}}
    )
    assert link.object == "payment_link" and link.metadata["invoice_number"] == "FA-2"
    assert client.v1.payment_links.retrieve(link.id).id == link.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_links.create({"metadata": {"x": "y"}})


# --- GoCardless ---------------------------------------------------------------------------------------------


def test_gocardless_envelope_cursors_and_order(http: httpx.Client, world: Path) -> None:
    want = newest_first(rows(world, "gocardless", "payments"), key="created_at")
    got, after = [], None
    while True:
        body = http.get(
            "/gocardless/payments",
            params={"limit": 20, **({"after": after} if after else {})},
            headers=GC_HEADERS,
        ).json()
        assert set(body) == {"payments", "meta"} and body["meta"]["limit"] == 20
        got += [p["id"] for p in body["payments"]]
        after = body["meta"]["cursors"]["after"]
        if after is None:
            break
        assert after == body["payments"][-1]["id"]
    assert got == want
    back = http.get(
        "/gocardless/payments", params={"limit": 5, "before": want[10]}, headers=GC_HEADERS
    ).json()
    assert [p["id"] for p in back["payments"]] == want[5:10]


def test_gocardless_filters(http: httpx.Client, world: Path) -> None:
    payments = rows(world, "gocardless", "payments")
    failed = http.get(
        "/gocardless/payments", params={"status": "failed", "limit": 500}, headers=GC_HEADERS
    ).json()
    assert sorted(p["id"] for p in failed["payments"]) == sorted(
        p["id"] for p in payments if p["status"] == "failed"
    )
    t = sorted(p["created_at"] for p in payments)[10]
    recent = http.get(
        "/gocardless/payments", params={"created_at[gte]": t, "limit": 500}, headers=GC_HEADERS
    ).json()
    assert len(recent["payments"]) == len(payments) - 10
    too_many = http.get("/gocardless/payments", params={"limit": 501}, headers=GC_HEADERS)
    assert too_many.status_code == 422 and too_many.json()["error"]["type"] == "validation_failed"


def test_gocardless_payout_items_require_a_payout_and_expire_after_six_months(
    http: httpx.Client, world: Path
) -> None:
    payouts = sorted(rows(world, "gocardless", "payouts"), key=lambda p: p["created_at"])
    missing = http.get("/gocardless/payout_items", headers=GC_HEADERS)
    assert missing.status_code == 422
    recent = http.get(
        "/gocardless/payout_items", params={"payout": payouts[-1]["id"]}, headers=GC_HEADERS
    ).json()
    items = [i for i in rows(world, "gocardless", "payout_items") if i["_payout"] == payouts[-1]["id"]]
    assert [i["type"] for i in recent["payout_items"]] == [i["type"] for i in items]
    assert all("_payout" not in i for i in recent["payout_items"])
    gone = http.get("/gocardless/payout_items", params={"payout": payouts[0]["id"]}, headers=GC_HEADERS)
    assert gone.status_code == 410 and gone.json()["error"]["code"] == 410


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"Authorization": "Bearer nope"}, 400, "missing_version_header"),
        ({"Authorization": "Bearer nope", "GoCardless-Version": "2015-07-06"}, 401, "invalid_token"),
        (GC_HEADERS, 200, None),
    ],
    ids=["no-version", "bad-token", "ok"],
)
def test_gocardless_auth_and_version_header(
    http: httpx.Client, headers: dict, status: int, reason: str | None
) -> None:
    response = http.get("/gocardless/customers", headers=headers)
    assert response.status_code == status
    assert "ratelimit-remaining" in response.headers
    if reason:
        error = response.json()["error"]
        assert set(error) >= {"type", "code", "message", "errors", "request_id"}
        assert error["errors"][0]["reason"] == reason and error["code"] == status


def test_gocardless_create_payment_idempotency_conflict(
    sb: RunningSandbox, http: httpx.Client, world: Path
) -> None:
    mandate = rows(world, "gocardless", "mandates")[0]["id"]
    body = {
        "payments": {
            "amount": 4200,
            "currency": "EUR",
            "links": {"mandate": mandate},
            "metadata": {"invoice_number": "RE-1"},
        }
    }
    headers = {**GC_HEADERS, "Idempotency-Key": "collect-RE-1"}
    first = http.post("/gocardless/payments", json=body, headers=headers)
    assert first.status_code == 201
    replay = http.post("/gocardless/payments", json=body, headers=headers)
    assert replay.status_code == 409
    assert (
        replay.json()["error"]["errors"][0]["links"]["conflicting_resource_id"]
        == first.json()["payments"]["id"]
    )
    client = GoCardlessApi(GC, sb.gocardless_base).client  # the SDK follows the conflict to the original
    created = client.payments.create(params=body["payments"], headers={"Idempotency-Key": "collect-RE-1"})
    assert created.id == first.json()["payments"]["id"]
    invalid = http.post(
        "/gocardless/payments", json={"payments": {"amount": -1, "links": {}}}, headers=GC_HEADERS
    )
    assert invalid.status_code == 422


# --- faults --------------------------------------------------------------------------------


def test_faults_rate_limit_then_server_error_in_each_providers_format(
    sb: RunningSandbox, http: httpx.Client
) -> None:
    assert (
        http.post(
            "/_sandbox/faults",
            json={"rate_limit": 1, "retry_after": 2, "server_error": 1, "server_error_status": 503},
        ).status_code
        == 200
    )
    limited = stripe_get(http, "/v1/charges")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()["error"]["type"] == "invalid_request_error"
    failing = http.get("/gocardless/payments", headers=GC_HEADERS)
    assert failing.status_code == 503 and failing.json()["error"]["type"] == "gocardless"
    assert stripe_get(http, "/v1/charges").status_code == 200
    sb.faults.set(provider="gocardless", rate_limit=1)
    assert stripe_get(http, "/v1/charges").status_code == 200  # scoped to one provider
    gc_limited = http.get("/gocardless/payments", headers=GC_HEADERS)
    assert gc_limited.status_code == 429 and gc_limited.headers["ratelimit-remaining"] == "0"
    assert "GMT" in gc_limited.headers["ratelimit-reset"]
    assert http.post("/_sandbox/faults", json={"nonsense": 1}).status_code == 400


def test_faults_drop_the_connection_on_request_k(sb: RunningSandbox, http: httpx.Client) -> None:
    sb.faults.set(drop_on=[2])
    assert stripe_get(http, "/v1/charges").status_code == 200
    with pytest.raises(httpx.RemoteProtocolError):
        stripe_get(http, "/v1/charges")
    assert stripe_get(http, "/v1/charges").status_code == 200
    assert sb.faults.snapshot()["injected"]["drop"] == 1


def test_faults_rate_limit_storm_lasts_its_duration(sb: RunningSandbox, http: httpx.Client) -> None:
    sb.faults.set(storm_seconds=0.4)
    assert {stripe_get(http, "/v1/customers").status_code for _ in range(5)} == {429}
    time.sleep(0.45)
    assert stripe_get(http, "/v1/customers").status_code == 200


def test_cli_serves_a_world(world: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox.server", "--root", str(world), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        url = line.split()[3]
        health = httpx.get(f"{url}/_sandbox/health", timeout=5).json()
        assert health == {"ok": True, "entities": ["DE01", "FR01"]}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
