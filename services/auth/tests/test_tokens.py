"""Access and CSRF tokens, JWKS, signing keys and GET /auth/me (SPEC section 2)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import text
from starlette.requests import Request

from auth_service.tokens.keys import KeyPair, KeyRing, private_pem, thumbprint
from devstack.testing import TEST_AUDIENCE, TEST_ISSUER, PgCluster, TokenFactory
from servicekit.config import asyncpg_dsn
from servicekit.db import Database
from servicekit.errors import Forbidden, Unauthorized
from servicekit.security import Authenticator, TokenVerifier

Call = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def signed_in(register: Call, login: Call) -> httpx.Response:
    assert (await register(roles=["trader", "commissioner"])).status_code == 201
    resp = await login()
    assert resp.status_code == 200
    return resp


async def _jwks(client: httpx.AsyncClient) -> dict[str, Any]:
    resp = await client.get("/auth/.well-known/jwks.json")
    assert resp.status_code == 200
    body: dict[str, Any] = resp.json()
    return body


async def test_jwks_lists_public_keys_with_kid_alg_use(client: httpx.AsyncClient) -> None:
    """GET /auth/.well-known/jwks.json -> {"keys": [public JWKs with kid, alg, use: "sig"]}."""
    resp = await client.get("/auth/.well-known/jwks.json")
    assert resp.status_code == 200
    assert "max-age" in resp.headers["cache-control"]
    keys = resp.json()["keys"]
    assert keys
    for key in keys:
        assert key["kty"] == "OKP"
        assert key["crv"] == "Ed25519"
        assert key["alg"] == "EdDSA"
        assert key["use"] == "sig"
        assert key["kid"]
        assert "d" not in key  # never the private part
        assert len(base64.urlsafe_b64decode(key["x"] + "==")) == 32


async def test_access_token_verifies_with_servicekit_token_verifier(
    client: httpx.AsyncClient, signed_in: httpx.Response
) -> None:
    """Access tokens verify as trading and auction verify them: EdDSA, typ at+jwt, kid from
    the JWKS, iss/aud/exp checked; claims sub (string id), roles, iat, exp (15 min), jti, sid."""
    token = signed_in.json()["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["typ"] == "at+jwt"
    jwks = await _jwks(client)
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}

    verifier = TokenVerifier("http://127.0.0.1:9/unused", TEST_ISSUER, TEST_AUDIENCE)
    verifier.add_jwks(jwks)
    claims = await verifier.verify(token)
    assert claims["iss"] == TEST_ISSUER
    assert claims["aud"] == TEST_AUDIENCE
    assert claims["sub"] == str(signed_in.json()["user"]["id"])
    assert claims["roles"] == ["trader", "commissioner"]
    assert claims["exp"] - claims["iat"] == 900
    assert claims["jti"] and isinstance(claims["sid"], str) and claims["sid"]
    assert verifier.fetch_count == 0

    with pytest.raises(Unauthorized):
        await verifier.verify(token, typ="csrf+jwt")  # an access token is not a CSRF token
    other = TokenVerifier("http://127.0.0.1:9/unused", TEST_ISSUER, "another-audience")
    other.add_jwks(jwks)
    with pytest.raises(Unauthorized):
        await other.verify(token)


async def test_two_logins_get_distinct_sid_and_jti(login: Call, signed_in: httpx.Response) -> None:
    first = jwt.decode(signed_in.json()["access_token"], options={"verify_signature": False})
    again = (await login()).json()["access_token"]
    second = jwt.decode(again, options={"verify_signature": False})
    assert first["sid"] != second["sid"]
    assert first["jti"] != second["jti"]


async def test_csrf_token_is_signed_and_bound_to_the_login(
    client: httpx.AsyncClient, signed_in: httpx.Response
) -> None:
    """The csrf_token cookie is a JWT (typ csrf+jwt) with iss, aud, sub, sid, iat, exp (the
    refresh lifetime); its sid equals the access token's sid."""
    csrf = client.cookies.get("csrf_token")
    assert csrf
    assert jwt.get_unverified_header(csrf)["typ"] == "csrf+jwt"
    verifier = TokenVerifier("http://127.0.0.1:9/unused", TEST_ISSUER, TEST_AUDIENCE)
    verifier.add_jwks(await _jwks(client))
    claims = await verifier.verify(csrf, typ="csrf+jwt")
    access = await verifier.verify(signed_in.json()["access_token"])
    assert claims["sid"] == access["sid"]
    assert claims["sub"] == access["sub"]
    assert claims["exp"] - claims["iat"] == 1_209_600
    with pytest.raises(Unauthorized):
        await verifier.verify(csrf)  # a CSRF token is not an access token


def _cookie_request(method: str, cookies: dict[str, str], headers: dict[str, str]) -> Request:
    cookie_header = "; ".join(f"{k}={v}" for k, v in cookies.items())
    raw = [(b"cookie", cookie_header.encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": method, "headers": raw, "path": "/sessions"})


async def test_cookie_login_passes_the_resource_services_csrf_rule(
    client: httpx.AsyncClient, signed_in: httpx.Response
) -> None:
    """What trading and auction check: a cookie-authenticated POST with X-CSRF-Token equal to
    the csrf_token cookie, signed for this login, is accepted; a mismatched one is 403."""
    verifier = TokenVerifier("http://127.0.0.1:9/unused", TEST_ISSUER, TEST_AUDIENCE)
    verifier.add_jwks(await _jwks(client))
    authenticator = Authenticator(verifier, ["http://127.0.0.1:8080"])
    cookies = {
        "access_token": client.cookies.get("access_token", path="/") or "",
        "csrf_token": client.cookies.get("csrf_token", path="/") or "",
    }
    ok = _cookie_request("POST", cookies, {"X-CSRF-Token": cookies["csrf_token"]})
    principal = await authenticator(ok)
    assert principal.via_cookie
    assert principal.user_id == signed_in.json()["user"]["id"]

    # A CSRF token of another login (another sid) is refused.
    other_csrf = (
        await client.post(
            "/auth/login", json={"email": "ann@example.com", "password": "correct horse battery"}
        )
    ).cookies.get("csrf_token")
    assert other_csrf
    mixed = dict(cookies, csrf_token=other_csrf)
    with pytest.raises(Forbidden):
        await authenticator(_cookie_request("POST", mixed, {"X-CSRF-Token": other_csrf}))


async def test_me_with_bearer_token(client: httpx.AsyncClient, signed_in: httpx.Response) -> None:
    """GET /auth/me with Authorization: Bearer -> the current user."""
    token = signed_in.json()["access_token"]
    client.cookies.clear()
    resp = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    assert resp.json() == signed_in.json()["user"]


async def test_me_with_access_token_cookie(
    client: httpx.AsyncClient, signed_in: httpx.Response
) -> None:
    """GET /auth/me with the access_token cookie (no CSRF needed for a GET)."""
    resp = await client.get("/auth/me")
    assert resp.status_code == 200
    assert resp.json()["email"] == "ann@example.com"


async def test_me_without_or_with_bad_token_is_401(
    client: httpx.AsyncClient, tokens: TokenFactory, signed_in: httpx.Response
) -> None:
    client.cookies.clear()
    resp = await client.get("/auth/me")
    assert resp.status_code == 401
    assert resp.json() == {"detail": "Not authenticated"}
    assert resp.headers["www-authenticate"] == "Bearer"
    token = signed_in.json()["access_token"]
    csrf = signed_in.cookies.get("csrf_token")
    bad = [
        "Bearer not.a.jwt",
        "Basic abc",
        f"Bearer {token[:-4]}AAAA",  # signature broken
        f"Bearer {tokens.token(1)}",  # a key the auth service never had
        f"Bearer {csrf}",  # wrong typ
    ]
    for value in bad:
        resp = await client.get("/auth/me", headers={"Authorization": value})
        assert resp.status_code == 401, value


async def test_me_of_a_deleted_user_is_401(
    client: httpx.AsyncClient, signed_in: httpx.Response, auth_app: FastAPI
) -> None:
    async with auth_app.state.db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM users"))
    assert (await client.get("/auth/me")).status_code == 401


async def test_unknown_kid_reloads_keys_from_the_database_not_over_http(
    client: httpx.AsyncClient, signed_in: httpx.Response, auth_app: FastAPI
) -> None:
    """/auth/me verifies with the service's own keys; a kid it has not seen (another
    replica's newer key) is looked up in the database, never fetched from itself."""
    extra = KeyPair.of(Ed25519PrivateKey.generate())
    async with auth_app.state.db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO signing_keys (kid, algorithm, private_pem, active) "
                "VALUES (:kid, 'EdDSA', :pem, false)"
            ),
            {"kid": extra.kid, "pem": private_pem(extra.private_key)},
        )
    verifier = auth_app.state.verifier
    verifier._last_demand = float("-inf")  # earlier tests may have used the refetch budget
    claims = jwt.decode(signed_in.json()["access_token"], options={"verify_signature": False})
    token = jwt.encode(
        claims, extra.private_key, algorithm="EdDSA", headers={"kid": extra.kid, "typ": "at+jwt"}
    )
    try:
        resp = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        assert extra.kid in {k["kid"] for k in (await _jwks(client))["keys"]}
    finally:
        async with auth_app.state.db.engine.begin() as conn:
            await conn.execute(
                text("DELETE FROM signing_keys WHERE kid = :kid"), {"kid": extra.kid}
            )
        await auth_app.state.keyring.load(auth_app.state.db)


def test_kid_is_the_rfc7638_thumbprint() -> None:
    """kid = RFC 7638 thumbprint (the RFC 8037 appendix A.3 Ed25519 example)."""
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    key = Ed25519PrivateKey.from_private_bytes(d)
    assert thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


@pytest.fixture(scope="module")
def keys_db(pg_cluster: PgCluster) -> str:
    from auth_service.main import ALEMBIC_INI

    return asyncpg_dsn(pg_cluster.database("auth_keys", ALEMBIC_INI))


async def test_generated_key_is_stored_once_and_shared_by_replicas(keys_db: str) -> None:
    """Without AUTH_SIGNING_KEY a key is generated on first start and kept in the database;
    concurrent replicas agree on one key (advisory lock), and restarts reuse it."""
    db = Database(keys_db, pool_size=5)
    try:
        replicas = [KeyRing() for _ in range(4)]
        await asyncio.gather(*(ring.load(db) for ring in replicas))
        kids = {ring.signing.kid for ring in replicas}
        assert len(kids) == 1
        async with db.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM signing_keys"))).scalar_one()
        assert count == 1
        restarted = KeyRing()
        await restarted.load(db)
        assert restarted.signing.kid in kids
        assert restarted.jwks() == replicas[0].jwks()
    finally:
        await db.dispose()


async def test_configured_signing_key_is_used(keys_db: str) -> None:
    """AUTH_SIGNING_KEY (PEM, literal \\n accepted) signs; the JWKS publishes it."""
    key = Ed25519PrivateKey.generate()
    pem = private_pem(key).replace("\n", "\\n")
    db = Database(keys_db, pool_size=2)
    try:
        ring = KeyRing(pem)
        await ring.load(db)
        assert ring.signing.kid == thumbprint(key)
        assert thumbprint(key) in {k["kid"] for k in ring.jwks()["keys"]}
    finally:
        await db.dispose()


@pytest.mark.parametrize("pem", ["not a pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n"])
def test_unreadable_signing_key_refuses_to_start(
    pem: str, make_settings: Callable[..., Any]
) -> None:
    with pytest.raises(ValueError, match="signing_key"):
        make_settings(signing_key=pem)


def test_non_ed25519_signing_key_refuses_to_start(make_settings: Callable[..., Any]) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_key = ec.generate_private_key(ec.SECP256R1())
    from cryptography.hazmat.primitives import serialization

    pem = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with pytest.raises(ValueError, match="Ed25519"):
        make_settings(signing_key=pem)
