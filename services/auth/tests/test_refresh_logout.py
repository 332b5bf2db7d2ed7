"""POST /auth/refresh (rotation, reuse detection) and POST /auth/logout (SPEC section 2)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import text

Call = Callable[..., Awaitable[httpx.Response]]
INVALID = {"detail": "Invalid refresh token"}


@pytest.fixture
async def session_tokens(register: Call, login: Call) -> dict[str, Any]:
    """A registered user, signed in: the login response body (the client keeps the cookies)."""
    assert (await register()).status_code == 201
    resp = await login()
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


async def _refresh_body(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """A cookie-less client: the refresh token in the body."""
    client.cookies.clear()
    return await client.post("/auth/refresh", json={"refresh_token": token})


def _sid(access_token: str) -> str:
    sid: str = jwt.decode(access_token, options={"verify_signature": False})["sid"]
    return sid


async def test_refresh_with_cookie_rotates_tokens_and_cookies(
    client: httpx.AsyncClient, session_tokens: dict[str, Any]
) -> None:
    """Refresh cookie -> 200, same shape as login, new cookies; no CSRF header needed."""
    resp = await client.post("/auth/refresh")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) >= {"access_token", "token_type", "expires_in", "refresh_token", "user"}
    assert body["token_type"] == "bearer"
    assert body["user"] == session_tokens["user"]
    assert body["refresh_token"] != session_tokens["refresh_token"]
    assert body["access_token"] != session_tokens["access_token"]
    assert _sid(body["access_token"]) == _sid(session_tokens["access_token"])  # same login
    set_cookies = {h.split("=", 1)[0] for h in resp.headers.get_list("set-cookie")}
    assert set_cookies == {"access_token", "refresh_token", "csrf_token"}
    assert client.cookies.get("refresh_token", path="/auth") == body["refresh_token"]
    assert resp.headers["cache-control"] == "no-store"


async def test_refresh_with_body_token(
    client: httpx.AsyncClient, session_tokens: dict[str, Any]
) -> None:
    """Clients without cookies send {refresh_token}."""
    resp = await _refresh_body(client, session_tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert resp.json()["refresh_token"] != session_tokens["refresh_token"]


async def test_refresh_issues_tokens_with_current_roles(
    client: httpx.AsyncClient, session_tokens: dict[str, Any], auth_app: FastAPI
) -> None:
    async with auth_app.state.db.engine.begin() as conn:
        await conn.execute(text("UPDATE users SET roles = '{trader,commissioner}'"))
    resp = await client.post("/auth/refresh")
    claims = jwt.decode(resp.json()["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["trader", "commissioner"]


async def test_refresh_without_or_with_unknown_token_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.post("/auth/refresh")).status_code == 401
    assert (await client.post("/auth/refresh", json={})).status_code == 401
    resp = await _refresh_body(client, "not-a-real-token")
    assert resp.status_code == 401
    assert resp.json() == INVALID


async def test_refresh_body_validation_is_422(client: httpx.AsyncClient) -> None:
    resp = await client.post("/auth/refresh", json={"refresh_token": 12})
    assert resp.status_code == 422
    resp = await client.post("/auth/refresh", json={"refresh_token": "x" * 513})
    assert resp.status_code == 422


async def test_rotated_refresh_token_dies(
    client: httpx.AsyncClient, session_tokens: dict[str, Any]
) -> None:
    """Rotation: the presented refresh token dies."""
    first = session_tokens["refresh_token"]
    assert (await _refresh_body(client, first)).status_code == 200
    again = await _refresh_body(client, first)
    assert again.status_code == 401
    assert again.json() == INVALID


async def test_reuse_of_dead_refresh_token_revokes_the_whole_login(
    client: httpx.AsyncClient, session_tokens: dict[str, Any], auth_app: FastAPI
) -> None:
    """Reusing a dead refresh token revokes that whole login: the newer tokens die too."""
    t1 = session_tokens["refresh_token"]
    t2 = (await _refresh_body(client, t1)).json()["refresh_token"]
    t3 = (await _refresh_body(client, t2)).json()["refresh_token"]
    assert (await _refresh_body(client, t1)).status_code == 401  # reuse of an old token
    assert (await _refresh_body(client, t3)).status_code == 401  # the newest died with it
    async with auth_app.state.db.engine.connect() as conn:
        revoked = (
            await conn.execute(text("SELECT count(*) FROM login_sessions WHERE revoked_at IS NULL"))
        ).scalar_one()
        live = (
            await conn.execute(text("SELECT count(*) FROM refresh_tokens WHERE revoked_at IS NULL"))
        ).scalar_one()
    assert revoked == 0
    assert live == 0


async def test_reuse_revokes_only_that_login(
    client: httpx.AsyncClient, session_tokens: dict[str, Any], login: Call
) -> None:
    """Every token of that family dies; another login of the same user keeps working."""
    other = (await login()).json()["refresh_token"]
    t1 = session_tokens["refresh_token"]
    await _refresh_body(client, t1)
    assert (await _refresh_body(client, t1)).status_code == 401
    assert (await _refresh_body(client, other)).status_code == 200


async def test_concurrent_refresh_with_one_token_one_wins_other_is_reuse(
    client: httpx.AsyncClient, session_tokens: dict[str, Any]
) -> None:
    """Rotation is race-safe: two refreshes with one token -> one 200, the other is treated as
    reuse (401) and the winner's new token dies with the login."""
    client.cookies.clear()
    token = session_tokens["refresh_token"]
    responses = await asyncio.gather(
        *(client.post("/auth/refresh", json={"refresh_token": token}) for _ in range(4))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 401, 401, 401]
    winner = next(r for r in responses if r.status_code == 200).json()["refresh_token"]
    assert (await _refresh_body(client, winner)).status_code == 401


async def test_expired_refresh_token_is_401(
    client: httpx.AsyncClient, session_tokens: dict[str, Any], auth_app: FastAPI
) -> None:
    async with auth_app.state.db.engine.begin() as conn:
        await conn.execute(text("UPDATE refresh_tokens SET expires_at = now() - interval '1s'"))
    assert (await client.post("/auth/refresh")).status_code == 401


async def test_refresh_token_is_stored_hashed(
    session_tokens: dict[str, Any], auth_app: FastAPI
) -> None:
    """Refresh tokens are opaque and stored as sha256, with family, parent and expiry."""
    import hashlib

    token = session_tokens["refresh_token"]
    async with auth_app.state.db.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT token_hash, family_id, parent_id, "
                    "expires_at - created_at AS ttl FROM refresh_tokens"
                )
            )
        ).one()
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert str(row.family_id) == _sid(session_tokens["access_token"])
    assert row.parent_id is None
    assert row.ttl.total_seconds() == pytest.approx(1_209_600, abs=2)


async def test_logout_revokes_the_login_and_clears_cookies(
    client: httpx.AsyncClient, session_tokens: dict[str, Any]
) -> None:
    """204, revokes the refresh token (from the cookie), clears the three cookies."""
    resp = await client.post("/auth/logout")
    assert resp.status_code == 204
    assert resp.content == b""
    cleared = {h.split("=", 1)[0]: h for h in resp.headers.get_list("set-cookie")}
    assert set(cleared) == {"access_token", "refresh_token", "csrf_token"}
    for header in cleared.values():
        assert "Max-Age=0" in header
    assert "Path=/auth" in cleared["refresh_token"]
    assert not client.cookies.get("refresh_token")
    assert (await _refresh_body(client, session_tokens["refresh_token"])).status_code == 401


async def test_logout_with_body_token_kills_rotated_descendants(
    client: httpx.AsyncClient, session_tokens: dict[str, Any]
) -> None:
    newer = (await _refresh_body(client, session_tokens["refresh_token"])).json()["refresh_token"]
    client.cookies.clear()
    assert (await client.post("/auth/logout", json={"refresh_token": newer})).status_code == 204
    assert (await _refresh_body(client, newer)).status_code == 401


async def test_logout_is_idempotent(client: httpx.AsyncClient) -> None:
    """204 even without a token, with an unknown one, or twice."""
    assert (await client.post("/auth/logout")).status_code == 204
    assert (await client.post("/auth/logout", json={})).status_code == 204
    resp = await client.post("/auth/logout", json={"refresh_token": "unknown"})
    assert resp.status_code == 204
    assert (await client.post("/auth/logout", json={"refresh_token": "unknown"})).status_code == 204


async def test_long_expired_logins_are_purged(
    session_tokens: dict[str, Any], login: Call, auth_app: FastAPI
) -> None:
    """Housekeeping: logins whose refresh tokens all expired long ago go (tokens cascade);
    live ones stay."""
    from auth_service.tokens.service import purge_finished_logins

    old_sid = _sid(session_tokens["access_token"])
    live = (await login()).json()
    async with auth_app.state.db.engine.begin() as conn:
        await conn.execute(
            text("UPDATE login_sessions SET created_at = now() - interval '30 days' WHERE id = :s"),
            {"s": old_sid},
        )
        await conn.execute(
            text(
                "UPDATE refresh_tokens SET expires_at = now() - interval '2 days' "
                "WHERE family_id = :s"
            ),
            {"s": old_sid},
        )
    await purge_finished_logins(auth_app.state.db)
    async with auth_app.state.db.engine.connect() as conn:
        sids = {str(r[0]) for r in await conn.execute(text("SELECT id FROM login_sessions"))}
        families = {
            str(r[0]) for r in await conn.execute(text("SELECT family_id FROM refresh_tokens"))
        }
    assert sids == families == {_sid(live["access_token"])}
