"""Access and CSRF tokens: EdDSA JWTs shaped exactly as servicekit.security verifies them."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from servicekit.security import ACCESS_TOKEN_TYP, CSRF_TOKEN_TYP

from .keys import ALGORITHM, KeyRing


def _sign(keyring: KeyRing, claims: dict[str, Any], typ: str) -> str:
    key = keyring.signing
    return jwt.encode(
        claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": typ}
    )


def access_token(
    keyring: KeyRing,
    *,
    issuer: str,
    audience: str,
    user_id: int,
    roles: list[str],
    sid: str,
    ttl_seconds: int,
) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "roles": list(roles),
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "sid": sid,
    }
    return _sign(keyring, claims, ACCESS_TOKEN_TYP)


def csrf_token(
    keyring: KeyRing, *, issuer: str, audience: str, user_id: int, sid: str, ttl_seconds: int
) -> str:
    """The csrf_token cookie's value: signed and bound to the login (`sid`), not bare random."""
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": str(user_id),
        "sid": sid,
        "iat": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return _sign(keyring, claims, CSRF_TOKEN_TYP)
