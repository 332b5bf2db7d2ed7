"""SPEC section 2 through the gateway, for bearer clients and for cookie (browser) clients."""

from __future__ import annotations

import uuid
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from .conftest import ClientFactory, Secrets, UserFactory


def _set_cookies(resp: httpx.Response) -> dict[str, str]:
    """name -> the raw Set-Cookie header value."""
    out = {}
    for header in resp.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0].strip()
        out[name] = header
    return out


def test_register_then_login_returns_tokens_and_three_cookies(
    gw: httpx.Client, secrets_seen: Secrets
) -> None:
    email = f"Flow-{uuid.uuid4().hex[:8]}@Example.com"
    password = f"pw-{uuid.uuid4().hex}"
    secrets_seen.add(password)
    reg = gw.post("/auth/register", json={"email": email, "password": password, "name": "Flow"})
    assert reg.status_code == 201, reg.text
    user = reg.json()
    assert user["roles"] == ["trader"]  # the default role
    assert user["created_at"].endswith("Z")
    assert "password" not in reg.text

    again = gw.post(
        "/auth/register", json={"email": email.lower(), "password": password, "name": "Flow"}
    )
    assert again.status_code == 409  # emails are case-insensitive

    login = gw.post("/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    body = login.json()
    secrets_seen.add(body["access_token"], body["refresh_token"])
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0
    assert body["user"]["id"] == user["id"]

    cookies = _set_cookies(login)
    assert set(cookies) >= {"access_token", "refresh_token", "csrf_token"}
    for name, header in cookies.items():
        parsed = SimpleCookie()
        parsed.load(header)
        secrets_seen.add(parsed[name].value)
    access = cookies["access_token"].lower()
    refresh = cookies["refresh_token"].lower()
    csrf = cookies["csrf_token"].lower()
    assert "httponly" in access and "samesite=lax" in access and "path=/;" in access + ";"
    assert "httponly" in refresh and "samesite=strict" in refresh and "path=/auth" in refresh
    assert "httponly" not in csrf and "samesite=lax" in csrf
    # COOKIE_SECURE=false is the local `make run` default (plain http on 127.0.0.1).
    for header in cookies.values():
        attributes = [part.strip().lower() for part in header.split(";")[1:]]
        assert "secure" not in attributes


def test_wrong_password_and_unknown_email_get_the_same_401(gw: httpx.Client) -> None:
    user_email = f"u-{uuid.uuid4().hex[:8]}@example.com"
    gw.post(
        "/auth/register",
        json={"email": user_email, "password": "correct-horse-1", "name": "X"},
    )
    wrong = gw.post("/auth/login", json={"email": user_email, "password": "wrong-pass-1"})
    unknown = gw.post(
        "/auth/login", json={"email": f"nobody-{user_email}", "password": "wrong-pass-1"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_bearer_client_reaches_me_trading_and_auction(
    make_user: UserFactory, gw: httpx.Client
) -> None:
    user = make_user(("trader", "commissioner"))
    me = gw.get("/auth/me", headers=user.bearer)
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    assert gw.get("/sessions", headers=user.bearer).status_code == 200
    assert gw.get("/api/sessions", headers=user.bearer).status_code == 200


def test_cookie_client_reaches_me_trading_and_auction(
    make_user: UserFactory, client_factory: ClientFactory, source_ip: str
) -> None:
    user = make_user(("trader", "commissioner"))
    browser = client_factory(source_ip, cookies=user.cookies)
    assert browser.get("/auth/me").json()["id"] == user.id
    assert browser.get("/sessions").status_code == 200
    assert browser.get("/api/sessions").status_code == 200


def test_auction_needs_the_commissioner_role(make_user: UserFactory, gw: httpx.Client) -> None:
    trader = make_user(("trader",))
    resp = gw.get("/api/sessions", headers=trader.bearer)
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "FORBIDDEN"


def test_cookie_authenticated_post_without_csrf_header_is_403(
    make_user: UserFactory, client_factory: ClientFactory, source_ip: str
) -> None:
    user = make_user(("trader", "commissioner"))
    browser = client_factory(source_ip, cookies=user.cookies)
    trading = browser.post("/sessions", json={})
    assert trading.status_code == 403, trading.text
    assert "detail" in trading.json()
    auction = browser.post("/api/sessions", json={})
    assert auction.status_code == 403, auction.text
    assert auction.json()["error"]["code"] == "FORBIDDEN"

    # A wrong token, a cross-site fetch or a foreign Origin are refused the same way.
    assert browser.post("/sessions", json={}, headers={"X-CSRF-Token": "nope"}).status_code == 403
    cross = {"X-CSRF-Token": user.csrf_token, "Sec-Fetch-Site": "cross-site"}
    assert browser.post("/sessions", json={}, headers=cross).status_code == 403
    foreign = {"X-CSRF-Token": user.csrf_token, "Origin": "https://evil.example"}
    assert browser.post("/api/sessions", json={}, headers=foreign).status_code == 403


def test_cookie_authenticated_post_with_csrf_header_passes_the_csrf_check(
    make_user: UserFactory, client_factory: ClientFactory, source_ip: str
) -> None:
    user = make_user(("trader", "commissioner"))
    browser = client_factory(source_ip, cookies=user.cookies)
    headers = {"X-CSRF-Token": user.csrf_token}
    trading = browser.post("/sessions", json={}, headers=headers)
    auction = browser.post("/api/sessions", json={}, headers=headers)
    # Past authentication and CSRF: whatever the service says next is not 401/403.
    assert trading.status_code not in (401, 403), trading.text
    assert auction.status_code not in (401, 403), auction.text


def test_bearer_post_needs_no_csrf_header(make_user: UserFactory, gw: httpx.Client) -> None:
    user = make_user(("trader",))
    resp = gw.post("/sessions", json={}, headers=user.bearer)
    assert resp.status_code not in (401, 403), resp.text


def test_refresh_rotates_and_reuse_revokes_the_login(
    make_user: UserFactory, client_factory: ClientFactory, source_ip: str, secrets_seen: Secrets
) -> None:
    user = make_user()
    browser = client_factory(source_ip, cookies=user.cookies)
    rotated = browser.post("/auth/refresh")  # the refresh cookie (Path=/auth) is sent
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    secrets_seen.add(new["access_token"], new["refresh_token"])
    assert new["refresh_token"] != user.refresh_token

    bearer_client = client_factory(source_ip)
    reuse = bearer_client.post("/auth/refresh", json={"refresh_token": user.refresh_token})
    assert reuse.status_code == 401
    # The whole login is revoked: the rotated token dies too.
    after = bearer_client.post("/auth/refresh", json={"refresh_token": new["refresh_token"]})
    assert after.status_code == 401


def test_logout_is_204_and_clears_the_cookies(
    make_user: UserFactory, client_factory: ClientFactory, source_ip: str
) -> None:
    user = make_user()
    browser = client_factory(source_ip, cookies=user.cookies)
    resp = browser.post("/auth/logout")
    assert resp.status_code == 204
    cleared = _set_cookies(resp)
    assert {"access_token", "refresh_token", "csrf_token"} <= set(cleared)
    assert all("max-age=0" in h.lower() or "expires=" in h.lower() for h in cleared.values())
    dead = client_factory(source_ip).post(
        "/auth/refresh", json={"refresh_token": user.refresh_token}
    )
    assert dead.status_code == 401


def test_jwks_is_public_through_the_gateway(gw: httpx.Client) -> None:
    resp = gw.get("/auth/.well-known/jwks.json")
    assert resp.status_code == 200
    keys = resp.json()["keys"]
    assert keys and all(k["kid"] and k["alg"] in ("EdDSA", "ES256") for k in keys)
    assert all("d" not in k for k in keys)  # public halves only
