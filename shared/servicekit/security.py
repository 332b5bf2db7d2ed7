"""Access-token verification for the resource services (trading, auction).

Tokens are verified locally against the auth service's JWKS, which is cached: the services
keep serving while auth is down. An unknown `kid` triggers at most one refetch per interval.
A request is authenticated by `Authorization: Bearer` or by the `access_token` cookie; a
cookie-authenticated unsafe request must pass the CSRF rule (see `_check_csrf`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from fastapi import Request

from .errors import Forbidden, Unauthorized

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = ("EdDSA", "ES256")
ACCESS_TOKEN_TYP = "at+jwt"
CSRF_TOKEN_TYP = "csrf+jwt"
ACCESS_COOKIE = "access_token"
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as the access token describes them."""

    user_id: int
    roles: frozenset[str]
    sid: str | None = None
    jti: str | None = None
    via_cookie: bool = False
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def has_role(self, role: str) -> bool:
        return role in self.roles


def _typ_matches(header_typ: Any, expected: str) -> bool:
    if not isinstance(header_typ, str):
        return False
    typ = header_typ.lower()
    return typ in (expected, f"application/{expected}")


class TokenVerifier:
    """JWKS-backed verifier with an explicit algorithm allow-list and iss/aud/exp checks."""

    def __init__(
        self,
        jwks_url: str,
        issuer: str,
        audience: str,
        *,
        algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS,
        refetch_interval: float = 30.0,
        empty_cache_retry: float = 0.5,
        http_timeout: float = 3.0,
        leeway: float = 5.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.refetch_interval = refetch_interval
        self.empty_cache_retry = empty_cache_retry
        self.http_timeout = http_timeout
        self.leeway = leeway
        self._keys: dict[str, jwt.PyJWK] = {}
        # token -> its verified claims, until `exp`: a signature is checked once per token,
        # not once per request (access tokens are stateless: nothing revokes one before exp).
        self._verified: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self.cache_size = 4096
        self._last_fetch = float("-inf")
        self._lock = asyncio.Lock()
        self.fetch_count = 0  # fetches started
        self._fetches_done = 0

    def add_jwks(self, jwks: dict[str, Any]) -> None:
        """Load keys from a JWKS document (used by the fetch, and by tests)."""
        for data in jwks.get("keys", []):
            kid = data.get("kid")
            if not kid:
                continue
            try:
                key = jwt.PyJWK.from_dict(data)
            except (jwt.exceptions.PyJWKError, jwt.exceptions.InvalidKeyError) as exc:
                log.warning("jwks key skipped", extra={"kid": kid, "error": str(exc)})
                continue
            if key.algorithm_name in self.algorithms:
                self._keys[kid] = key

    async def refresh(self, *, force: bool = False) -> None:
        """Fetch the keys, at most once per interval unless forced.

        A caller that waited while a fetch was in flight takes that fetch's result instead
        of starting another (or giving up because the budget was just spent). With no keys
        at all (startup, auth came up late) the caller waits out the short empty-cache
        retry instead of being refused: a valid token is never a 401 just because the
        warm-up's last attempt failed a moment ago.
        """
        seen = self._fetches_done
        async with self._lock:
            if not force:
                if self._fetches_done != seen:
                    return  # a fetch finished while this caller waited: its result is ours
                since = time.monotonic() - self._last_fetch
                if self._keys:
                    if since < self.refetch_interval:
                        return
                elif since < self.empty_cache_retry:
                    await asyncio.sleep(self.empty_cache_retry - since)
            self._last_fetch = time.monotonic()
            self.fetch_count += 1
            try:
                await self._fetch()
            finally:
                self._fetches_done += 1

    async def _fetch(self) -> None:
        """Load the JWKS; failures keep the cache as it was."""
        try:
            async with httpx.AsyncClient(timeout=self.http_timeout) as client:
                resp = await client.get(self.jwks_url)
                resp.raise_for_status()
                self.add_jwks(resp.json())
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("jwks fetch failed", extra={"url": self.jwks_url, "error": str(exc)})

    @property
    def has_keys(self) -> bool:
        return bool(self._keys)

    async def warm(self, *, max_delay: float = 5.0) -> None:
        """Background task at startup: fetch until the first keys arrive (the auth service
        may start after this one), backing off to `max_delay`; never blocks a request."""
        delay = self.empty_cache_retry
        while not self._keys:
            await self.refresh(force=True)
            if self._keys:
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)

    async def _key_for(self, kid: str) -> jwt.PyJWK | None:
        key = self._keys.get(kid)
        if key is None:
            await self.refresh()
            key = self._keys.get(kid)
        return key

    async def verify(self, token: str, *, typ: str = ACCESS_TOKEN_TYP) -> dict[str, Any]:
        """Return the claims of a valid token, or raise Unauthorized."""
        cached = self._verified.get((typ, token))
        if cached is not None:
            if cached["exp"] + self.leeway > time.time():
                self._verified.move_to_end((typ, token))
                return dict(cached)
            del self._verified[(typ, token)]
        claims = await self._verify_uncached(token, typ)
        if isinstance(claims.get("exp"), (int, float)):
            self._verified[(typ, token)] = dict(claims)
            if len(self._verified) > self.cache_size:
                self._verified.popitem(last=False)
        return claims

    async def _verify_uncached(self, token: str, typ: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.exceptions.DecodeError as exc:
            raise Unauthorized("Invalid token") from exc
        alg = header.get("alg")
        if alg not in self.algorithms:
            raise Unauthorized("Invalid token")
        if not _typ_matches(header.get("typ"), typ):
            raise Unauthorized("Invalid token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("Invalid token")
        key = await self._key_for(kid)
        if key is None or key.algorithm_name != alg:
            raise Unauthorized("Invalid token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.exceptions.ExpiredSignatureError as exc:
            raise Unauthorized("Token expired") from exc
        except jwt.exceptions.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc
        return claims


def _bearer(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if not auth:
        return None
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Invalid authorization header")
    return token.strip()


class Authenticator:
    """FastAPI dependency: `Depends(authenticator)` gives the Principal or raises 401/403."""

    def __init__(self, verifier: TokenVerifier, allowed_origins: list[str]) -> None:
        self.verifier = verifier
        self.allowed_origins = {o.rstrip("/") for o in allowed_origins}

    async def __call__(self, request: Request) -> Principal:
        cached = getattr(request.state, "principal", None)
        if isinstance(cached, Principal):
            return cached
        token = _bearer(request)
        via_cookie = False
        if token is None:
            token = request.cookies.get(ACCESS_COOKIE)
            via_cookie = True
        if not token:
            raise Unauthorized()
        claims = await self.verifier.verify(token)
        try:
            user_id = int(claims["sub"])
        except (TypeError, ValueError) as exc:
            raise Unauthorized("Invalid token") from exc
        roles = claims.get("roles") or []
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("Invalid token")
        principal = Principal(
            user_id=user_id,
            roles=frozenset(roles),
            sid=claims.get("sid"),
            jti=claims.get("jti"),
            via_cookie=via_cookie,
            claims=claims,
        )
        if via_cookie and request.method.upper() in UNSAFE_METHODS:
            await self._check_csrf(request, principal)
        request.state.principal = principal
        return principal

    async def _check_csrf(self, request: Request, principal: Principal) -> None:
        """Cookie-authenticated writes: same-site only, allowed Origin, and a double-submitted
        CSRF token that the auth service signed for this very login."""
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise Forbidden("Cross-site request refused")
        origin = request.headers.get("origin")
        if origin is not None and origin.rstrip("/") not in self.allowed_origins:
            raise Forbidden("Origin not allowed")
        header = request.headers.get(CSRF_HEADER)
        cookie = request.cookies.get(CSRF_COOKIE)
        if not header or not cookie or not hmac.compare_digest(header, cookie):
            raise Forbidden("Missing or invalid CSRF token")
        try:
            csrf_claims = await self.verifier.verify(header, typ=CSRF_TOKEN_TYP)
        except Unauthorized as exc:
            raise Forbidden("Missing or invalid CSRF token") from exc
        if not principal.sid or csrf_claims.get("sid") != principal.sid:
            raise Forbidden("Missing or invalid CSRF token")
