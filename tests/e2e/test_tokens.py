"""Trading and auction verify access tokens themselves (SPEC section 2): forged or defective
tokens are 401 at both, and valid tokens keep working while the auth service is down."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devstack.stack import Stack

if TYPE_CHECKING:
    from .conftest import User, UserFactory

# One protected read on each resource service; a commissioner may call both.
PROTECTED = {"trading": "/sessions", "auction": "/api/sessions"}


@pytest.fixture
def real_kid(gw: httpx.Client) -> str:
    keys = gw.get("/auth/.well-known/jwks.json").json()["keys"]
    assert len(keys) == 1
    kid: str = keys[0]["kid"]
    return kid


@pytest.fixture
def commissioner(make_user: UserFactory) -> User:
    return make_user(("trader", "commissioner"))


def _claims(stack: Stack, user: User, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": stack.issuer,
        "aud": "marketplace",
        "sub": str(user.id),
        "roles": user.roles,
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "sid": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return claims


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(key: Ed25519PrivateKey, claims: dict[str, Any], **headers: Any) -> str:
    headers = {"typ": "at+jwt", **headers}
    headers = {k: v for k, v in headers.items() if v is not None}
    return jwt.encode(claims, key, algorithm="EdDSA", headers=headers)


Forge = Callable[[Stack, "User", Ed25519PrivateKey, str], str]


def alg_none(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": kid}
    payload = _claims(stack, user)
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."


def foreign_key_made_up_kid(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    return _sign(Ed25519PrivateKey.generate(), _claims(stack, user), kid="made-up-kid")


def foreign_key_real_kid(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    return _sign(Ed25519PrivateKey.generate(), _claims(stack, user), kid=kid)


def wrong_audience(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    return _sign(key, _claims(stack, user, aud="some-other-api"), kid=kid)


def wrong_issuer(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    return _sign(key, _claims(stack, user, iss="https://evil.example/auth"), kid=kid)


def expired(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    past = int(time.time()) - 3600
    return _sign(key, _claims(stack, user, iat=past - 900, exp=past), kid=kid)


def missing_typ(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    return _sign(key, _claims(stack, user), kid=kid, typ=None)


def wrong_typ(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    return _sign(key, _claims(stack, user), kid=kid, typ="JWT")


def tampered_payload(stack: Stack, user: User, key: Ed25519PrivateKey, kid: str) -> str:
    """The user's real token with `roles` raised to admin after signing."""
    header, payload, signature = user.access_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin", "trader", "commissioner"]
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


FORGERIES: list[Forge] = [
    alg_none,
    foreign_key_made_up_kid,
    foreign_key_real_kid,
    wrong_audience,
    wrong_issuer,
    expired,
    missing_typ,
    wrong_typ,
    tampered_payload,
]


def test_control_a_token_signed_with_the_real_key_is_accepted(
    gw: httpx.Client,
    stack: Stack,
    commissioner: User,
    signing_key: Ed25519PrivateKey,
    real_kid: str,
) -> None:
    """Proves the forgeries below fail for their one defect, not for an unknown key."""
    token = _sign(signing_key, _claims(stack, commissioner), kid=real_kid)
    for path in PROTECTED.values():
        resp = gw.get(path, headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text


@pytest.mark.parametrize("service", sorted(PROTECTED))
@pytest.mark.parametrize("forge", FORGERIES, ids=lambda f: f.__name__)
def test_forged_or_defective_token_is_401(
    gw: httpx.Client,
    stack: Stack,
    commissioner: User,
    signing_key: Ed25519PrivateKey,
    real_kid: str,
    service: str,
    forge: Forge,
) -> None:
    token = forge(stack, commissioner, signing_key, real_kid)
    resp = gw.get(PROTECTED[service], headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401, resp.text
    if service == "auction":
        assert resp.json()["error"]["code"] == "UNAUTHORIZED"
    else:
        assert "detail" in resp.json()


@pytest.mark.parametrize("service", sorted(PROTECTED))
def test_forged_token_in_the_cookie_is_401(
    client_factory: Callable[..., httpx.Client],
    source_ip: str,
    stack: Stack,
    commissioner: User,
    real_kid: str,
    service: str,
) -> None:
    token = foreign_key_real_kid(stack, commissioner, Ed25519PrivateKey.generate(), real_kid)
    browser = client_factory(source_ip, cookies={"access_token": token})
    assert browser.get(PROTECTED[service]).status_code == 401


def test_services_accept_valid_tokens_with_auth_stopped(
    gw: httpx.Client, stack: Stack, commissioner: User
) -> None:
    # Both services have the key cached (the control request verifies with it).
    for path in PROTECTED.values():
        assert gw.get(path, headers=commissioner.bearer).status_code == 200
    stack.stop_service("auth")
    try:
        for path in PROTECTED.values():
            resp = gw.get(path, headers=commissioner.bearer)
            assert resp.status_code == 200, resp.text
        # Auth itself is down: a clean JSON 503 in its format, and /healthz says so.
        me = gw.get("/auth/me", headers=commissioner.bearer)
        assert me.status_code == 503
        assert me.headers["content-type"].startswith("application/json")
        assert "auth" in me.json()["detail"]
        health = gw.get("/healthz")
        assert health.status_code == 503
        assert health.json()["services"]["auth"] != "ok"
        assert health.json()["services"]["trading"] == "ok"
    finally:
        stack.start_service("auth")
    assert gw.get("/auth/me", headers=commissioner.bearer).status_code == 200
