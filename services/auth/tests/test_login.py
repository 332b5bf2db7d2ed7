"""POST /auth/login: tokens, cookies, one 401 message, throttling (SPEC section 2 and 8)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from starlette.requests import Request

from auth_service.config import DEFAULT_TRUSTED_PROXIES, Settings
from auth_service.tokens.throttle import client_address

Call = Callable[..., Awaitable[httpx.Response]]
PASSWORD = "correct horse battery"  # the conftest's default password
INVALID = {"detail": "Invalid email or password"}


@pytest.fixture
async def ann(register: Call) -> dict[str, Any]:
    resp = await register(email="ann@example.com")
    assert resp.status_code == 201
    body: dict[str, Any] = resp.json()
    return body


def cookies_of(resp: httpx.Response) -> dict[str, dict[str, Any]]:
    """Set-Cookie headers as {name: {"value": ..., attribute: value}} (flags as True)."""
    out: dict[str, dict[str, Any]] = {}
    for header in resp.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            attrs: dict[str, Any] = {"value": morsel.value}
            for part in header.split(";")[1:]:
                key, _, val = part.strip().partition("=")
                attrs[key.lower()] = val if val else True
            out[name] = attrs
    return out


async def test_login_returns_tokens_and_user(login: Call, ann: dict[str, Any]) -> None:
    """200 {access_token, token_type: "bearer", expires_in, refresh_token, user}."""
    resp = await login()
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["access_token"].count(".") == 2
    assert len(body["refresh_token"]) >= 40
    assert body["user"] == ann
    assert resp.headers["cache-control"] == "no-store"


async def test_login_email_is_case_insensitive(login: Call, ann: dict[str, Any]) -> None:
    assert (await login(email="  ANN@Example.com")).status_code == 200


async def test_login_sets_three_cookies_with_their_attributes(
    login: Call, ann: dict[str, Any]
) -> None:
    """access_token (HttpOnly, SameSite=Lax, Path=/), refresh_token (HttpOnly, SameSite=Strict,
    Path=/auth), csrf_token (readable by scripts, SameSite=Lax, Path=/), all Secure."""
    resp = await login()
    body = resp.json()
    cookies = cookies_of(resp)
    assert set(cookies) == {"access_token", "refresh_token", "csrf_token"}

    access, refresh, csrf = cookies["access_token"], cookies["refresh_token"], cookies["csrf_token"]
    assert access["value"] == body["access_token"]
    assert access.get("httponly") is True
    assert access["samesite"].lower() == "lax"
    assert access["path"] == "/"
    assert access.get("secure") is True
    assert int(access["max-age"]) == 900

    assert refresh["value"] == body["refresh_token"]
    assert refresh.get("httponly") is True
    assert refresh["samesite"].lower() == "strict"
    assert refresh["path"] == "/auth"
    assert refresh.get("secure") is True
    assert int(refresh["max-age"]) == 1_209_600

    assert csrf["value"].count(".") == 2
    assert "httponly" not in csrf
    assert csrf["samesite"].lower() == "lax"
    assert csrf["path"] == "/"
    assert csrf.get("secure") is True


@pytest.fixture
async def insecure_cookies(
    auth_app: FastAPI, make_settings: Callable[..., Settings]
) -> AsyncIterator[None]:
    """The app as `make run` configures it: AUTH_COOKIE_SECURE=false."""
    original = auth_app.state.settings
    auth_app.state.settings = make_settings(cookie_secure=False)
    try:
        yield
    finally:
        auth_app.state.settings = original


async def test_cookies_are_not_secure_when_cookie_secure_is_false(
    login: Call, ann: dict[str, Any], insecure_cookies: None
) -> None:
    """`Secure` on all three unless COOKIE_SECURE=false."""
    cookies = cookies_of(await login())
    assert len(cookies) == 3
    for attrs in cookies.values():
        assert "secure" not in attrs
    assert cookies["access_token"].get("httponly") is True


def test_cookie_secure_setting_reads_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """AUTH_COOKIE_SECURE; True by default."""
    assert Settings().cookie_secure is True
    monkeypatch.setenv("AUTH_COOKIE_SECURE", "false")
    assert Settings().cookie_secure is False


async def test_login_unknown_email_and_wrong_password_give_one_401(
    login: Call, ann: dict[str, Any]
) -> None:
    """401 with one message for unknown email and wrong password alike."""
    wrong_password = await login(password="not the password")
    unknown_email = await login(email="nobody@example.com")
    malformed_email = await login(email="not an email")
    for resp in (wrong_password, unknown_email, malformed_email):
        assert resp.status_code == 401
        assert resp.json() == INVALID
        assert "set-cookie" not in resp.headers


async def test_unknown_email_costs_the_same_argon2_work(
    login: Call, ann: dict[str, Any], auth_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown emails run one Argon2 verification too, so timing does not tell them apart."""
    hasher = auth_app.state.passwords._hasher.current_hasher
    seen: list[str] = []
    original = hasher.verify

    def counting_verify(password: str, hashed: str) -> bool:
        seen.append(hashed)
        return bool(original(password, hashed))

    monkeypatch.setattr(hasher, "verify", counting_verify)
    await login(email="nobody@example.com")
    await login(password="not the password")
    assert len(seen) == 2
    assert all(h.startswith("$argon2id$") for h in seen)


async def test_login_validation_errors_are_422(client: httpx.AsyncClient) -> None:
    """Validation errors are 422."""
    for body in ({}, {"email": "ann@example.com"}, {"password": "x"}, {"email": 1, "password": 2}):
        assert (await client.post("/auth/login", json=body)).status_code == 422


async def _fail(login: Call, n: int, **kw: Any) -> list[int]:
    return [(await login(password=f"wrong-{i}", **kw)).status_code for i in range(n)]


async def test_throttle_email_429_after_10_failures_right_password_or_not(
    login: Call, ann: dict[str, Any]
) -> None:
    """429 after 10 failed tries a minute for one email: blocked for the window, right
    password or not (with Retry-After)."""
    addresses = [f"198.51.100.{i}" for i in range(10)]  # spread over addresses: the email counts
    for i, address in enumerate(addresses):
        assert (await login(password=f"wrong-{i}", address=address)).status_code == 401
    blocked = await login(address="198.51.100.200")  # right password
    assert blocked.status_code == 429
    assert blocked.json() == {"detail": "Too many failed login attempts, try again later"}
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    assert "set-cookie" not in blocked.headers
    assert (await login(password="wrong", address="198.51.100.201")).status_code == 429


async def test_throttle_address_429_after_10_failures_across_emails(
    login: Call, register: Call
) -> None:
    """429 after 10 failed tries a minute from one client address, whatever the emails."""
    await register(email="bob@example.com")
    statuses = [
        (await login(email=f"user{i}@example.com", address="203.0.113.7")).status_code
        for i in range(10)
    ]
    assert statuses == [401] * 10
    blocked = await login(email="bob@example.com", address="203.0.113.7")  # right password
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    # Another address and the same email are unaffected.
    assert (await login(email="bob@example.com", address="203.0.113.8")).status_code == 200


async def test_throttle_counts_per_email(login: Call, register: Call) -> None:
    """The limit of one email does not block another email."""
    await register(email="ann@example.com")
    await register(email="bob@example.com")
    addresses = [f"198.51.100.{i}" for i in range(11)]
    for address in addresses:
        await login(email="ann@example.com", password="wrong", address=address)
    assert (await login(email="ann@example.com", address="192.0.2.1")).status_code == 429
    assert (await login(email="bob@example.com", address="192.0.2.1")).status_code == 200


async def test_successful_login_is_not_a_failed_try(login: Call, ann: dict[str, Any]) -> None:
    """Only failures count: 9 failures, a success, 1 failure make 10, then 429."""
    assert await _fail(login, 9) == [401] * 9
    assert (await login()).status_code == 200
    assert await _fail(login, 1) == [401]
    assert (await login()).status_code == 429


async def test_throttle_window_ends(login: Call, ann: dict[str, Any], auth_app: FastAPI) -> None:
    """The block lasts for the window only; a new window starts counting afresh."""
    assert await _fail(login, 10) == [401] * 10
    assert (await login()).status_code == 429
    async with auth_app.state.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE login_attempts SET window_start = window_start - interval '61 seconds'")
        )
    assert (await login()).status_code == 200


async def test_concurrent_failed_logins_get_exactly_10_tries(
    login: Call, ann: dict[str, Any], auth_app: FastAPI
) -> None:
    """The counters live in the database and are counted before the password is checked, so
    concurrent guesses cannot slip past the limit: exactly 10 are checked, the rest 429."""
    responses = await asyncio.gather(*(login(password=f"guess-{i}") for i in range(16)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [401] * 10 + [429] * 6
    async with auth_app.state.db.engine.connect() as conn:
        rows = await conn.execute(text("SELECT key, failures FROM login_attempts"))
        keys = {row.key: row.failures for row in rows}
    assert keys["email:ann@example.com"] == 16


def _request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "client": (peer, 5000), "headers": headers})


TRUSTED = [ipaddress.ip_network(c) for c in DEFAULT_TRUSTED_PROXIES]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("203.0.113.9", None, "203.0.113.9"),  # direct peer
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # untrusted peer: header ignored
        ("127.0.0.1", "198.51.100.1", "198.51.100.1"),  # loopback proxy (Traefik)
        ("10.1.2.3", "198.51.100.1, 10.0.0.5", "198.51.100.1"),  # first hop
        ("172.18.0.4", " 2001:db8::1 ", "2001:db8::1"),  # compose network, IPv6 client
        ("192.168.1.1", "garbage", "192.168.1.1"),  # unreadable header: the peer
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_client_address_trusts_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    """Client address: the direct peer, or the first X-Forwarded-For hop when the peer is a
    trusted proxy (default loopback and private ranges)."""
    assert client_address(_request(peer, forwarded), TRUSTED) == expected


def test_trusted_proxies_setting_accepts_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")
    settings = Settings()
    assert settings.trusted_proxies == ["10.0.0.0/8", "127.0.0.1"]
    assert client_address(_request("127.0.0.1", "1.2.3.4"), settings.trusted_proxy_networks) == (
        "1.2.3.4"
    )
    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", "[]")
    assert Settings().trusted_proxies == []
    monkeypatch.setenv("AUTH_TRUSTED_PROXIES", "not-a-network")
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        Settings()


async def test_stale_throttle_counters_are_purged(
    login: Call, ann: dict[str, Any], auth_app: FastAPI
) -> None:
    await _fail(login, 1, address="198.51.100.77")
    await _fail(login, 1, email="bob@example.com", address="198.51.100.78")
    async with auth_app.state.db.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE login_attempts SET window_start = now() - interval '2 hours' "
                "WHERE key LIKE '%bob%' OR key LIKE '%.78'"
            )
        )
    await auth_app.state.throttle.purge()
    async with auth_app.state.db.engine.connect() as conn:
        keys = {r[0] for r in await conn.execute(text("SELECT key FROM login_attempts"))}
    assert keys == {"email:ann@example.com", "ip:198.51.100.77"}
