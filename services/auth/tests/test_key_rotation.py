"""Signing-key rotation (issue 10): the current key signs, previous keys stay published with
their own kid (RFC 7638 thumbprint) so the tokens they signed verify until they expire."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import ValidationError

from auth_service.config import Settings
from auth_service.main import create_app
from devstack.testing import TokenFactory

PASSWORD = "correct horse battery"


def _public_pem(factory: TokenFactory) -> str:
    return (
        factory.private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
async def rotated(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[tuple[httpx.AsyncClient, TokenFactory, TokenFactory, TokenFactory]]:
    """Auth with key B current, A (private PEM) and C (public PEM only) previous."""
    a, b, c = TokenFactory(), TokenFactory(), TokenFactory()
    settings = make_settings(
        signing_key=b.private_pem(),
        # As an env file writes it: both blocks in one value, newlines escaped.
        previous_signing_keys=(a.private_pem() + _public_pem(c)).replace("\n", "\\n"),
        jwks_max_age_seconds=7,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://auth.test") as client:
            yield client, a, b, c


async def test_previous_keys_are_published_and_new_tokens_carry_the_current_kid(
    rotated: tuple[httpx.AsyncClient, TokenFactory, TokenFactory, TokenFactory],
) -> None:
    client, a, b, c = rotated
    resp = await client.get("/auth/.well-known/jwks.json")
    assert resp.headers["cache-control"] == "public, max-age=7"
    keys = {key["kid"]: key for key in resp.json()["keys"]}
    # Each kid is the key's own thumbprint (TokenFactory derives it independently).
    assert {a.kid, b.kid, c.kid} <= set(keys)
    assert len({a.kid, b.kid, c.kid}) == 3
    assert all("d" not in key for key in keys.values())
    for factory in (a, b, c):
        expected = factory.jwks()["keys"][0]
        assert keys[factory.kid]["x"] == expected["x"]

    body = {"email": "rot@example.com", "password": PASSWORD, "name": "Rot"}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    login = await client.post("/auth/login", json={"email": body["email"], "password": PASSWORD})
    assert login.status_code == 200
    token = login.json()["access_token"]
    assert jwt.get_unverified_header(token)["kid"] == b.kid
    user_id = login.json()["user"]["id"]

    # A token signed by a previous key (the one users hold from before the restart) and one
    # by the current key both verify at auth's own /auth/me; a foreign key does not.
    for factory in (a, b):
        me = await client.get("/auth/me", headers=factory.headers(user_id))
        assert me.status_code == 200, (factory.kid, me.text)
        assert me.json()["id"] == user_id
    stranger = TokenFactory()
    assert (await client.get("/auth/me", headers=stranger.headers(user_id))).status_code == 401


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not a pem", "no PEM block"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "unreadable"),
    ],
)
def test_unreadable_previous_keys_fail_at_start(
    make_settings: Callable[..., Settings], value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_settings(previous_signing_keys=value)


def test_jwks_max_age_must_be_positive(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ValidationError, match="jwks_max_age_seconds"):
        make_settings(jwks_max_age_seconds=0)
