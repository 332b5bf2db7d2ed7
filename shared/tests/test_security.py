"""Token verification and the CSRF rule of SPEC section 2, against a real JWKS over HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from fastapi import Depends, FastAPI

from devstack.testing import TEST_AUDIENCE, TEST_ISSUER, TokenFactory
from servicekit.app import detail_renderer, install_error_handlers
from servicekit.errors import Unauthorized
from servicekit.observability import RequestContextMiddleware
from servicekit.security import Authenticator, Principal, TokenVerifier

ALLOWED_ORIGIN = "http://app.example"


class JwksServer:
    """A loopback HTTP server publishing a JWKS, counting fetches; can be stopped like auth."""

    def __init__(
        self, jwks: dict[str, Any], delay: float = 0.0, cache_control: str | None = None
    ) -> None:
        self.jwks = jwks
        self.hits = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hits += 1
                time.sleep(delay)  # a slow auth: the fetch stays in flight
                body = json.dumps(outer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if cache_control:
                    self.send_header("Cache-Control", cache_control)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def issuer() -> TokenFactory:
    return TokenFactory()


@pytest.fixture
def jwks_server(issuer: TokenFactory) -> Iterator[JwksServer]:
    server = JwksServer(issuer.jwks())
    yield server
    server.stop()


def make_app(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, detail_renderer)
    app.add_middleware(RequestContextMiddleware, service="test")
    auth = Authenticator(verifier, [ALLOWED_ORIGIN])

    @app.get("/whoami")
    async def whoami(p: Principal = Depends(auth)) -> dict[str, Any]:
        return {"user_id": p.user_id, "roles": sorted(p.roles), "via_cookie": p.via_cookie}

    @app.post("/write")
    async def write(p: Principal = Depends(auth)) -> dict[str, Any]:
        return {"ok": True, "user_id": p.user_id}

    return app


@pytest.fixture
def verifier(jwks_server: JwksServer) -> TokenVerifier:
    return TokenVerifier(jwks_server.url, TEST_ISSUER, TEST_AUDIENCE)


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_valid_bearer_token_is_accepted(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    resp = await client.get("/whoami", headers=bearer(issuer.token(42, ["trader", "admin"])))
    assert resp.status_code == 200
    assert resp.json() == {"user_id": 42, "roles": ["admin", "trader"], "via_cookie": False}


async def test_missing_token_is_401_with_www_authenticate(client: httpx.AsyncClient) -> None:
    resp = await client.get("/whoami")
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"


async def test_alg_none_is_401(client: httpx.AsyncClient, issuer: TokenFactory) -> None:
    now = int(time.time())
    claims = {
        "iss": TEST_ISSUER,
        "aud": TEST_AUDIENCE,
        "sub": "1",
        "roles": ["admin"],
        "iat": now,
        "exp": now + 600,
        "jti": "x",
    }
    token = f"{b64({'alg': 'none', 'typ': 'at+jwt', 'kid': issuer.kid})}.{b64(claims)}."
    assert (await client.get("/whoami", headers=bearer(token))).status_code == 401


async def test_hmac_with_public_key_as_secret_is_401(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    """Algorithm confusion: HS256 signed with the published public key must not pass."""
    public_x = issuer.jwks()["keys"][0]["x"].encode()
    now = int(time.time())
    token = jwt.encode(
        {"iss": TEST_ISSUER, "aud": TEST_AUDIENCE, "sub": "1", "iat": now, "exp": now + 600},
        public_x,
        algorithm="HS256",
        headers={"kid": issuer.kid, "typ": "at+jwt"},
    )
    assert (await client.get("/whoami", headers=bearer(token))).status_code == 401


async def test_foreign_key_with_known_kid_is_401(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    forger = TokenFactory()
    forger.kid = issuer.kid  # pretends to be the real key
    assert (await client.get("/whoami", headers=bearer(forger.token(1)))).status_code == 401


async def test_foreign_key_with_unknown_kid_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/whoami", headers=bearer(TokenFactory().token(1)))).status_code == 401


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "someone-else"},
        {"iss": "http://evil.example/auth"},
        {"exp": int(time.time()) - 3600},
        {"sub": "not-a-number"},
        {"sub": None},
    ],
    ids=["wrong-aud", "wrong-iss", "expired", "non-numeric-sub", "null-sub"],
)
async def test_bad_claims_are_401(
    client: httpx.AsyncClient, issuer: TokenFactory, overrides: dict[str, Any]
) -> None:
    token = issuer.token(1, **overrides)
    assert (await client.get("/whoami", headers=bearer(token))).status_code == 401


async def test_roles_claim_must_be_a_list_of_strings(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": TEST_ISSUER,
            "aud": TEST_AUDIENCE,
            "sub": "1",
            "roles": "admin",
            "iat": now,
            "exp": now + 600,
            "jti": "x",
        },
        issuer.private_key,
        algorithm="EdDSA",
        headers={"kid": issuer.kid, "typ": "at+jwt"},
    )
    assert (await client.get("/whoami", headers=bearer(token))).status_code == 401


async def test_tampered_payload_is_401(client: httpx.AsyncClient, issuer: TokenFactory) -> None:
    header, _, signature = issuer.token(1, ["trader"]).split(".")
    now = int(time.time())
    forged = b64(
        {
            "iss": TEST_ISSUER,
            "aud": TEST_AUDIENCE,
            "sub": "1",
            "roles": ["admin"],
            "iat": now,
            "exp": now + 600,
            "jti": "x",
        }
    )
    resp = await client.get("/whoami", headers=bearer(f"{header}.{forged}.{signature}"))
    assert resp.status_code == 401


@pytest.mark.parametrize("typ", ["JWT", "csrf+jwt", None])
async def test_access_token_must_carry_typ_at_jwt(
    client: httpx.AsyncClient, issuer: TokenFactory, typ: str | None
) -> None:
    """RFC 8725: an ID token or CSRF token is never accepted as an access token."""
    now = int(time.time())
    headers: dict[str, Any] = {"kid": issuer.kid}
    if typ:
        headers["typ"] = typ
    token = jwt.encode(
        {
            "iss": TEST_ISSUER,
            "aud": TEST_AUDIENCE,
            "sub": "1",
            "roles": [],
            "iat": now,
            "exp": now + 600,
            "jti": "x",
        },
        issuer.private_key,
        algorithm="EdDSA",
        headers=headers,
    )
    assert (await client.get("/whoami", headers=bearer(token))).status_code == 401


async def test_garbage_and_wrong_scheme_are_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/whoami", headers=bearer("not.a.jwt"))).status_code == 401
    assert (await client.get("/whoami", headers={"Authorization": "Basic abc"})).status_code == 401


async def test_unknown_kid_refetches_at_most_once_per_interval(
    client: httpx.AsyncClient,
    jwks_server: JwksServer,
    issuer: TokenFactory,
    verifier: TokenVerifier,
) -> None:
    """SPEC 2: an unknown kid triggers at most one refetch per 30 s, however many arrive;
    concurrent strangers share one refetch."""
    await client.get("/whoami", headers=bearer(issuer.token(1)))  # first fetch fills the cache
    assert jwks_server.hits == 1

    async def five_strangers() -> None:
        tokens = [TokenFactory().token(1) for _ in range(5)]
        results = await asyncio.gather(*(client.get("/whoami", headers=bearer(t)) for t in tokens))
        assert {r.status_code for r in results} == {401}

    started = time.monotonic()
    await five_strangers()
    assert jwks_server.hits == 1, "no refetch within 30 s of the last one a kid caused"
    assert time.monotonic() - started < 1, "and no waiting for the next slot"
    verifier._last_demand -= 31  # thirty-one seconds pass
    await five_strangers()
    assert jwks_server.hits == 2, "five concurrent unknown kids cause one refetch, not five"


async def test_rotated_key_is_picked_up_on_unknown_kid(
    verifier: TokenVerifier, jwks_server: JwksServer, issuer: TokenFactory
) -> None:
    await verifier.verify(issuer.token(1))
    rotated = TokenFactory()
    jwks_server.jwks = {"keys": issuer.jwks()["keys"] + rotated.jwks()["keys"]}
    verifier.refetch_interval = 0.0  # the interval elapsed
    claims = await verifier.verify(rotated.token(7))
    assert claims["sub"] == "7"


async def test_tokens_verify_while_auth_is_down(
    client: httpx.AsyncClient, jwks_server: JwksServer, issuer: TokenFactory
) -> None:
    assert (await client.get("/whoami", headers=bearer(issuer.token(1)))).status_code == 200
    jwks_server.stop()
    resp = await client.get("/whoami", headers=bearer(issuer.token(2)))
    assert resp.status_code == 200
    assert resp.json()["user_id"] == 2


async def test_jwks_unreachable_at_start_gives_401_not_500(issuer: TokenFactory) -> None:
    verifier = TokenVerifier(
        "http://127.0.0.1:9/jwks.json", TEST_ISSUER, TEST_AUDIENCE, http_timeout=0.5
    )
    transport = httpx.ASGITransport(app=make_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://svc.test") as c:
        resp = await c.get("/whoami", headers=bearer(issuer.token(1)))
    assert resp.status_code == 401


# --- cookie authentication and the CSRF rule -------------------------------------------------


def csrf_token(issuer: TokenFactory, sid: str) -> str:
    now = int(time.time())
    return jwt.encode(
        {
            "iss": TEST_ISSUER,
            "aud": TEST_AUDIENCE,
            "sub": "5",
            "sid": sid,
            "iat": now,
            "exp": now + 3600,
        },
        issuer.private_key,
        algorithm="EdDSA",
        headers={"kid": issuer.kid, "typ": "csrf+jwt"},
    )


def cookie_client_cookies(issuer: TokenFactory, sid: str = "login-1") -> dict[str, str]:
    return {
        "access_token": issuer.token(5, ["trader"], sid=sid),
        "csrf_token": csrf_token(issuer, sid),
    }


async def test_cookie_get_needs_no_csrf(client: httpx.AsyncClient, issuer: TokenFactory) -> None:
    client.cookies.update(cookie_client_cookies(issuer))
    resp = await client.get("/whoami")
    assert resp.status_code == 200
    assert resp.json()["via_cookie"] is True


async def test_cookie_post_without_csrf_header_is_403(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    client.cookies.update(cookie_client_cookies(issuer))
    assert (await client.post("/write")).status_code == 403


async def test_cookie_post_with_matching_signed_csrf_is_200(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    cookies = cookie_client_cookies(issuer)
    client.cookies.update(cookies)
    resp = await client.post("/write", headers={"X-CSRF-Token": cookies["csrf_token"]})
    assert resp.status_code == 200


async def test_csrf_header_not_equal_to_cookie_is_403(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    client.cookies.update(cookie_client_cookies(issuer))
    other = csrf_token(issuer, "login-1") + "x"
    assert (await client.post("/write", headers={"X-CSRF-Token": other})).status_code == 403


async def test_bare_random_csrf_value_is_403(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    """A double-submitted value that the auth service did not sign is refused."""
    client.cookies.update({"access_token": issuer.token(5, sid="s"), "csrf_token": "random123"})
    assert (await client.post("/write", headers={"X-CSRF-Token": "random123"})).status_code == 403


async def test_csrf_bound_to_another_login_is_403(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    other = csrf_token(issuer, "login-2")
    client.cookies.update({"access_token": issuer.token(5, sid="login-1"), "csrf_token": other})
    assert (await client.post("/write", headers={"X-CSRF-Token": other})).status_code == 403


async def test_cross_site_fetch_is_403_even_with_csrf(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    cookies = cookie_client_cookies(issuer)
    client.cookies.update(cookies)
    resp = await client.post(
        "/write", headers={"X-CSRF-Token": cookies["csrf_token"], "Sec-Fetch-Site": "cross-site"}
    )
    assert resp.status_code == 403


async def test_foreign_origin_is_403_allowed_origin_passes(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    cookies = cookie_client_cookies(issuer)
    client.cookies.update(cookies)
    csrf = {"X-CSRF-Token": cookies["csrf_token"]}
    bad = await client.post("/write", headers={**csrf, "Origin": "http://evil.example"})
    assert bad.status_code == 403
    good = await client.post("/write", headers={**csrf, "Origin": ALLOWED_ORIGIN})
    assert good.status_code == 200


async def test_bearer_writes_are_exempt_from_csrf(
    client: httpx.AsyncClient, issuer: TokenFactory
) -> None:
    resp = await client.post(
        "/write", headers={**bearer(issuer.token(9)), "Sec-Fetch-Site": "cross-site"}
    )
    assert resp.status_code == 200


async def test_warm_up_loads_keys_once_auth_starts_after_the_service(
    issuer: TokenFactory,
) -> None:
    """Startup order: the service may come up before auth; the background warm-up keeps
    trying (backing off) and loads the keys as soon as auth answers."""
    late = JwksServer(issuer.jwks())
    url = late.url
    late.stop()  # auth is not up yet
    verifier = TokenVerifier(url, TEST_ISSUER, TEST_AUDIENCE, empty_cache_retry=0.05)
    task = asyncio.create_task(verifier.warm(max_delay=0.1))
    await asyncio.sleep(0.3)
    assert not verifier.has_keys and not task.done()
    port = int(url.split(":")[2].split("/")[0])
    restarted = _serve_on(port, issuer.jwks())  # auth comes up, same address
    try:
        await asyncio.wait_for(task, timeout=5)
        assert verifier.has_keys
        assert (await verifier.verify(issuer.token(3)))["sub"] == "3"
    finally:
        restarted.shutdown()
        restarted.server_close()


async def test_first_request_right_after_a_failed_fetch_waits_for_the_retry_not_401(
    issuer: TokenFactory,
) -> None:
    """Startup race (seen once in CI): the warm-up's fetch failed a moment before auth came
    up, and the first request arrives inside the empty-cache retry window. With no keys at
    all, the request waits out the short window and fetches, instead of a spurious 401."""
    late = JwksServer(issuer.jwks())
    url = late.url
    late.stop()  # auth is not up yet
    verifier = TokenVerifier(url, TEST_ISSUER, TEST_AUDIENCE, empty_cache_retry=0.4)
    await verifier.refresh(force=True)  # the warm-up's attempt fails
    assert not verifier.has_keys
    port = int(url.split(":")[2].split("/")[0])
    restarted = _serve_on(port, issuer.jwks())  # auth comes up, same address
    try:
        started = time.monotonic()
        assert (await verifier.verify(issuer.token(4)))["sub"] == "4"
        assert time.monotonic() - started < 2
        assert verifier.fetch_count == 2
    finally:
        restarted.shutdown()
        restarted.server_close()


async def test_requests_during_a_fetch_in_flight_take_its_result(issuer: TokenFactory) -> None:
    """A request with an unknown kid while another fetch is in flight (the warm-up, say)
    waits for that fetch and uses its keys: no 401 because the budget was just spent, and
    no second fetch."""
    slow = JwksServer(issuer.jwks(), delay=0.3)
    try:
        verifier = TokenVerifier(slow.url, TEST_ISSUER, TEST_AUDIENCE)
        warm = asyncio.create_task(verifier.warm())
        await asyncio.sleep(0.1)  # the warm-up's fetch is in flight
        results = await asyncio.gather(*(verifier.verify(issuer.token(n)) for n in range(5)))
        assert [c["sub"] for c in results] == ["0", "1", "2", "3", "4"]
        await warm
        assert slow.hits == 1
    finally:
        slow.stop()


def _serve_on(port: int, jwks: dict[str, Any]) -> ThreadingHTTPServer:
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd


async def test_verified_tokens_are_cached_until_they_expire(
    verifier: TokenVerifier, issuer: TokenFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token's signature is checked once, not on every request; the cache never outlives
    `exp` (plus the leeway), and a different string (tampered) is never a hit."""
    calls = 0
    real = verifier._verify_uncached

    async def counting(token: str, typ: str) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return await real(token, typ)

    monkeypatch.setattr(verifier, "_verify_uncached", counting)
    token = issuer.token(5, exp=int(time.time() - verifier.leeway) + 3)  # valid 2-3 s more
    assert (await verifier.verify(token))["sub"] == "5"
    assert (await verifier.verify(token))["sub"] == "5"
    assert calls == 1
    header, payload, sig = token.split(".")
    # Flip the signature's first character: it carries 6 significant bits, whereas the last
    # one has padding bits and "AA" may already be there (1 run in 256 once failed CI).
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]
    assert flipped != sig
    with pytest.raises(Exception, match="Invalid token"):
        await verifier.verify(f"{header}.{payload}.{flipped}")
    with pytest.raises(Exception, match="Invalid token"):
        await verifier.verify(token, typ="csrf+jwt")  # another typ: its own entry
    await asyncio.sleep(3.1)
    with pytest.raises(Exception, match="Token expired"):
        await verifier.verify(token)


# --- signing-key rotation (issue 10) ----------------------------------------------------------


async def test_key_published_before_it_signs_verifies_at_once(issuer: TokenFactory) -> None:
    """Rotation without a 401 (README): the next key is published first; the max-age refetch
    (in the background, not charged to the unknown-kid budget) makes it known before its
    first token, though the unknown-kid budget is spent."""
    nxt = TokenFactory()
    server = JwksServer(issuer.jwks(), cache_control="max-age=1")
    try:
        verifier = TokenVerifier(server.url, TEST_ISSUER, TEST_AUDIENCE)
        assert (await verifier.verify(issuer.token(1)))["sub"] == "1"
        with pytest.raises(Unauthorized):
            await verifier.verify(TokenFactory().token(9))  # within 30 s: no refetch
        assert server.hits == 1
        server.jwks = {"keys": issuer.jwks()["keys"] + nxt.jwks()["keys"]}  # B published
        await asyncio.sleep(1.1)
        assert (await verifier.verify(issuer.token(2)))["sub"] == "2"  # starts the refetch
        assert verifier._background is not None
        await asyncio.wait_for(verifier._background, timeout=5)
        started = time.monotonic()
        assert (await verifier.verify(nxt.token(7)))["sub"] == "7"  # B signs: known already
        assert time.monotonic() - started < 0.5
        assert server.hits == 2
        assert (await verifier.verify(issuer.token(3)))["sub"] == "3"  # A still verifies
    finally:
        server.stop()


async def test_key_removed_from_the_jwks_stops_verifying_after_its_max_age(
    issuer: TokenFactory,
) -> None:
    """The JWKS's max-age bounds how long a removed key (and the cached verifications of its
    tokens) keeps verifying; the refetch runs in the background, requests never wait on it."""
    rotated = TokenFactory()
    server = JwksServer(
        {"keys": issuer.jwks()["keys"] + rotated.jwks()["keys"]}, cache_control="max-age=1"
    )
    try:
        verifier = TokenVerifier(server.url, TEST_ISSUER, TEST_AUDIENCE)
        old = issuer.token(1)
        assert (await verifier.verify(old))["sub"] == "1"
        server.jwks = rotated.jwks()  # the old key leaves the JWKS
        assert (await verifier.verify(old))["sub"] == "1"  # fresh for one more second
        assert server.hits == 1
        await asyncio.sleep(1.1)
        started = time.monotonic()
        assert (await verifier.verify(old))["sub"] == "1"  # starts the refetch, does not wait
        assert time.monotonic() - started < 0.5
        background = verifier._background
        assert background is not None
        await asyncio.wait_for(background, timeout=5)
        assert server.hits == 2
        with pytest.raises(Unauthorized, match="Invalid token"):
            await verifier.verify(old)
        assert (await verifier.verify(rotated.token(2)))["sub"] == "2"
    finally:
        server.stop()


async def test_stale_keys_keep_verifying_while_auth_is_down(issuer: TokenFactory) -> None:
    """A failed background refetch (auth down) keeps the keys and is retried later."""
    server = JwksServer(issuer.jwks(), cache_control="public, max-age=1")
    verifier = TokenVerifier(
        server.url, TEST_ISSUER, TEST_AUDIENCE, stale_retry=0.2, http_timeout=1.0
    )
    assert (await verifier.verify(issuer.token(1)))["sub"] == "1"
    server.stop()
    await asyncio.sleep(1.1)
    for n in range(2, 12):
        assert (await verifier.verify(issuer.token(n)))["sub"] == str(n)
        if verifier._background is not None:
            await asyncio.wait_for(verifier._background, timeout=5)
        await asyncio.sleep(0.05)
    assert 2 <= verifier.fetch_count <= 5, verifier.fetch_count


async def test_known_kids_never_wait_for_a_refetch_in_flight(issuer: TokenFactory) -> None:
    """While an unknown kid's refetch hangs on a slow auth, tokens of known kids verify at
    once: only the unknown kid's request waits."""
    slow = JwksServer(issuer.jwks(), delay=1.0)
    try:
        verifier = TokenVerifier(slow.url, TEST_ISSUER, TEST_AUDIENCE, refetch_interval=0.0)
        await verifier.verify(issuer.token(1))  # the first fetch (1 s)
        stranger = asyncio.create_task(verifier.verify(TokenFactory().token(2)))
        await asyncio.sleep(0.1)  # its refetch is in flight
        started = time.monotonic()
        for n in range(3, 8):
            assert (await verifier.verify(issuer.token(n)))["sub"] == str(n)
        elapsed = time.monotonic() - started
        assert not stranger.done()
        assert elapsed < 0.5, f"known kids waited {elapsed:.2f} s behind the refetch"
        with pytest.raises(Unauthorized):
            await stranger
        assert slow.hits == 2
    finally:
        slow.stop()
