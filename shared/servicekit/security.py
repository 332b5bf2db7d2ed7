"""Access-token verification for the resource services (trading, auction).

Tokens are verified locally against the auth service's JWKS, which is cached: the services
keep serving while auth is down. An unknown `kid` makes the verifier refetch the JWKS, at most
once per `refetch_interval` (30 s, SPEC 2: a flood of bogus kids costs auth one request per
30 s); and the JWKS is refetched in the background once its `Cache-Control: max-age` has
passed, so a key published before it signs is known before its first token (rotation without
a 401: README "Rotating the signing key"), and a key removed from it stops verifying (cached
verifications of its tokens too). Tokens of known kids never wait for a fetch, and a failed
fetch keeps the keys as they were.
A request is authenticated by `Authorization: Bearer` or by the `access_token` cookie; a
cookie-authenticated unsafe request must pass the CSRF rule (see `_check_csrf`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
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
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age=(\d+)", re.IGNORECASE)


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
        default_max_age: float = 300.0,
        stale_retry: float = 5.0,
        http_timeout: float = 3.0,
        leeway: float = 5.0,
    ) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.refetch_interval = refetch_interval
        self.empty_cache_retry = empty_cache_retry
        # How long fetched keys count as fresh when the JWKS response gives no max-age, and how
        # soon a failed background refetch (auth down) is tried again.
        self.default_max_age = default_max_age
        self.stale_retry = stale_retry
        self.http_timeout = http_timeout
        self.leeway = leeway
        self._keys: dict[str, jwt.PyJWK] = {}
        # Kids given by hand (add_jwks: tests, the auth service's own ring): never dropped by a
        # refetch; only kids that came from the JWKS URL follow it.
        self._pinned: set[str] = set()
        # token -> (kid, its verified claims), until `exp`: a signature is checked once per
        # token, not once per request (access tokens are stateless: nothing revokes one before
        # exp, except its key leaving the JWKS).
        self._verified: OrderedDict[tuple[str, str], tuple[str, dict[str, Any]]] = OrderedDict()
        self.cache_size = 4096
        self._last_fetch = float("-inf")  # any fetch
        self._last_demand = float("-inf")  # the last fetch an unknown kid caused
        self._fresh_until = float("inf")  # no background refetch before a first fetch
        self._background: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.fetch_count = 0  # fetches started
        self._fetches_done = 0

    @staticmethod
    def _parse(jwks: dict[str, Any], algorithms: tuple[str, ...]) -> dict[str, jwt.PyJWK]:
        keys: dict[str, jwt.PyJWK] = {}
        for data in jwks.get("keys", []):
            kid = data.get("kid")
            if not kid:
                continue
            try:
                key = jwt.PyJWK.from_dict(data)
            except (jwt.exceptions.PyJWKError, jwt.exceptions.InvalidKeyError) as exc:
                log.warning("jwks key skipped", extra={"kid": kid, "error": str(exc)})
                continue
            if key.algorithm_name in algorithms:
                keys[kid] = key
        return keys

    def add_jwks(self, jwks: dict[str, Any]) -> None:
        """Trust the keys of a JWKS document for good (tests, the auth service's own keys)."""
        keys = self._parse(jwks, self.algorithms)
        self._keys.update(keys)
        self._pinned.update(keys)

    def set_jwks(self, jwks: dict[str, Any]) -> None:
        """Take a fetched JWKS as the truth: its keys are added, fetched keys it no longer lists
        are dropped with every cached verification of their tokens."""
        keys = self._parse(jwks, self.algorithms)
        gone = {kid for kid in self._keys if kid not in keys and kid not in self._pinned}
        for kid in gone:
            del self._keys[kid]
        self._keys.update(keys)
        if gone:
            log.info("jwks keys removed", extra={"kids": sorted(gone)})
            for entry in [k for k, (kid, _) in self._verified.items() if kid in gone]:
                del self._verified[entry]

    async def refresh(self, *, force: bool = False) -> None:
        """Fetch the keys, at most once per `refetch_interval` unless forced.

        A caller that waited while a fetch was in flight takes that fetch's result instead
        of starting another (or giving up because the budget was just spent). Within the
        interval nothing is fetched: the unknown kid is refused. With no keys at all (startup,
        auth came up late) the caller waits out the short empty-cache retry instead: a valid
        token is never a 401 just because the warm-up's last attempt failed a moment ago.
        """
        seen = self._fetches_done
        async with self._lock:
            if not force:
                if self._fetches_done != seen:
                    return  # a fetch finished while this caller waited: its result is ours
                if self._keys:
                    if time.monotonic() - self._last_demand < self.refetch_interval:
                        return
                else:
                    since = time.monotonic() - self._last_fetch
                    if since < self.empty_cache_retry:
                        await asyncio.sleep(self.empty_cache_retry - since)
                # Only these fetches count against the budget: the warm-up and the max-age
                # refetches are not caused by a client's kid.
                self._last_demand = time.monotonic()
            self._last_fetch = time.monotonic()
            self.fetch_count += 1
            try:
                await self._fetch()
            finally:
                self._fetches_done += 1

    async def _fetch(self) -> None:
        """Load the JWKS and note until when it is fresh; failures keep the keys as they were
        and are tried again after `stale_retry`."""
        try:
            jwks, max_age = await self._load_jwks()
        except Exception as exc:
            log.warning("jwks fetch failed", extra={"url": self.jwks_url, "error": repr(exc)})
            self._fresh_until = time.monotonic() + self.stale_retry
            return
        self.set_jwks(jwks)
        ttl = self.default_max_age if max_age is None else max_age
        self._fresh_until = time.monotonic() + ttl

    async def _load_jwks(self) -> tuple[dict[str, Any], float | None]:
        """The JWKS document and its max-age in seconds (None when the response has none)."""
        async with httpx.AsyncClient(timeout=self.http_timeout) as client:
            resp = await client.get(self.jwks_url)
            resp.raise_for_status()
            jwks = resp.json()
        if not isinstance(jwks, dict):
            raise ValueError("the JWKS is not a JSON object")
        found = _MAX_AGE.search(resp.headers.get("cache-control", ""))
        return jwks, float(found.group(1)) if found else None

    def _refresh_if_stale(self) -> None:
        """Start one background refetch once the keys' max-age has passed (never waits)."""
        if self._background is None and time.monotonic() >= self._fresh_until:
            self._background = asyncio.create_task(self._background_refresh())

    async def _background_refresh(self) -> None:
        try:
            await self.refresh(force=True)
        finally:
            self._background = None

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
        self._refresh_if_stale()
        cached = self._verified.get((typ, token))
        if cached is not None:
            _, cached_claims = cached
            if cached_claims["exp"] + self.leeway > time.time():
                self._verified.move_to_end((typ, token))
                return dict(cached_claims)
            del self._verified[(typ, token)]
        claims = await self._verify_uncached(token, typ)
        if isinstance(claims.get("exp"), (int, float)):
            kid = jwt.get_unverified_header(token)["kid"]
            self._verified[(typ, token)] = (kid, dict(claims))
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
