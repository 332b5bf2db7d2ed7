"""Login throttling through the gateway: the auth service's rule (429 after 10 failed tries a
minute per email or client address, SPEC section 2) and the gateway's per-address rate limit
on /auth/login and /auth/register (SPEC section 5)."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from .conftest import ClientFactory, UserFactory


def assert_json_429(resp: httpx.Response) -> None:
    """Issue 10: every 429 on login/register is JSON in auth's format with Retry-After and the
    gateway's headers, whether the rate limit or the auth service's own throttling said it."""
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == {"detail": "Too many requests: wait before trying again"}
    assert resp.headers["retry-after"] == "60"
    assert resp.headers["x-request-id"]
    assert resp.headers["x-frame-options"] == "DENY"


def test_ten_failed_logins_block_that_email_even_with_the_right_password(
    make_user: UserFactory, client_factory: ClientFactory, source_ip: str
) -> None:
    user = make_user()
    attacker = client_factory(source_ip)
    for attempt in range(10):
        resp = attacker.post(
            "/auth/login", json={"email": user.email, "password": f"wrong-{attempt}-xx"}
        )
        assert resp.status_code == 401, (attempt, resp.text)
    blocked = attacker.post("/auth/login", json={"email": user.email, "password": "wrong-again"})
    assert blocked.status_code == 429
    # The block is on the email: the right password from another address is refused too.
    other = client_factory("127.0.9.9")
    right = other.post("/auth/login", json={"email": user.email, "password": user.password})
    assert right.status_code == 429
    assert_json_429(right)


def test_failed_logins_from_one_address_block_that_address(
    client_factory: ClientFactory, source_ip: str, make_user: UserFactory
) -> None:
    user = make_user()
    attacker = client_factory(source_ip)
    for n in range(10):
        # A different unknown email each time: only the address links the tries.
        email = f"nobody-{n}-{uuid.uuid4().hex[:6]}@example.com"
        assert (
            attacker.post(
                "/auth/login", json={"email": email, "password": "whatever-1"}
            ).status_code
            == 401
        )
    blocked = attacker.post("/auth/login", json={"email": user.email, "password": user.password})
    assert blocked.status_code == 429
    # A spoofed X-Forwarded-For does not move the attacker to another address: the gateway
    # does not trust client-sent forwarding headers.
    spoofed = attacker.post(
        "/auth/login",
        json={"email": user.email, "password": user.password},
        headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"},
    )
    assert spoofed.status_code == 429
    # Another address is unaffected.
    fine = client_factory("127.0.9.10").post(
        "/auth/login", json={"email": user.email, "password": user.password}
    )
    assert fine.status_code == 200


def test_gateway_rate_limits_login_and_register_per_address(
    client_factory: ClientFactory, source_ip: str
) -> None:
    """A burst over the gateway's bucket (20, refilled at 10/s) gets 429 from Traefik before
    reaching the auth service; other addresses and other routes are unaffected."""
    flooder = client_factory(source_ip)

    def hit(n: int) -> httpx.Response:
        # An invalid body: auth answers 422 at once, so the burst is fast.
        return flooder.post("/auth/register", json={"n": n})

    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(hit, range(60)))
    statuses = [r.status_code for r in responses]
    assert statuses.count(429) > 0, statuses
    assert set(statuses) <= {422, 429}
    for resp in responses:
        if resp.status_code == 429:  # Traefik's own plain-text 429 became auth's JSON
            assert_json_429(resp)
    assert client_factory("127.0.9.11").post("/auth/register", json={}).status_code == 422
    assert flooder.get("/auth/.well-known/jwks.json").status_code == 200  # not rate limited
    time.sleep(2.5)  # the bucket refills: the address is served again
    assert flooder.post("/auth/register", json={}).status_code == 422
