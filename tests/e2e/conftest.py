"""End-to-end fixtures: the real stack (Traefik, gateway-aux, three uvicorn processes) on free
ports and a temporary data directory, with the test run's PostgreSQL (`pg_cluster`).

Every test talks HTTP to the gateway. Clients can bind a chosen loopback source address
(127.0.0.x) so per-address throttling in one test never blocks another. Every secret a test
sees (passwords, tokens) is recorded in `secrets_seen`; test_logs checks none reached a log.
"""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from devstack.stack import SERVICES, Ports, Stack
from devstack.testing import PgCluster

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "e2e-admin@example.com"
ADMIN_PASSWORD = f"admin-{uuid.uuid4().hex}"
_source_ips = itertools.count(10)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every e2e test carries the marker; the log audit runs last, after every other flow."""
    for item in items:
        if "tests/e2e/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.path.name == "test_logs.py")


@dataclass
class Secrets:
    """Every password and token the e2e tests handled."""

    values: set[str] = field(default_factory=set)

    def add(self, *values: str | None) -> None:
        self.values.update(v for v in values if v)


@pytest.fixture(scope="session")
def secrets_seen() -> Secrets:
    return Secrets({ADMIN_PASSWORD})


@pytest.fixture(scope="session")
def signing_key() -> Ed25519PrivateKey:
    """The auth service's signing key (AUTH_SIGNING_KEY): lets tests forge otherwise-valid
    tokens with exactly one defect (wrong aud, wrong iss, expired, no typ)."""
    return Ed25519PrivateKey.generate()


def e2e_stack(
    pg_cluster: PgCluster,
    tmp_path_factory: pytest.TempPathFactory,
    signing_key: Ed25519PrivateKey,
    secrets_seen: Secrets,
    name: str = "e2e",
    env: dict[str, str] | None = None,
    **stack_kw: Any,
) -> Iterator[Stack]:
    """A stack on databases of its own (`<name>_<service>`), started, then stopped; `env`
    adds to every process's environment (tests/browser: a short access-token lifetime)."""
    urls = {service: pg_cluster.database(f"{name}_{service}") for service in SERVICES}
    pem = signing_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    secrets_seen.add(pem.splitlines()[1])  # the private key's body never reaches a log
    s = Stack(
        tmp_path_factory.mktemp(f"{name}-stack"),
        Ports.free(),
        database_urls=urls,
        env={"AUTH_SIGNING_KEY": pem, **(env or {})},
        seed_demo=False,
        admin_email=ADMIN_EMAIL,
        admin_password=ADMIN_PASSWORD,
        start_timeout=120,
        **stack_kw,
    )
    s.start()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def stack(
    pg_cluster: PgCluster,
    tmp_path_factory: pytest.TempPathFactory,
    signing_key: Ed25519PrivateKey,
    secrets_seen: Secrets,
) -> Iterator[Stack]:
    yield from e2e_stack(pg_cluster, tmp_path_factory, signing_key, secrets_seen)


StackFactory = Callable[..., AbstractContextManager[Stack]]


@pytest.fixture(scope="session")
def start_stack(
    pg_cluster: PgCluster,
    tmp_path_factory: pytest.TempPathFactory,
    signing_key: Ed25519PrivateKey,
    secrets_seen: Secrets,
) -> StackFactory:
    """`with start_stack("name", replicas={...}) as stack:` another stack like `stack`, on
    databases of its own (a module overrides `stack` with it)."""
    return contextmanager(
        functools.partial(e2e_stack, pg_cluster, tmp_path_factory, signing_key, secrets_seen)
    )


@pytest.fixture(scope="session")
def logs_dir(stack: Stack) -> Path:
    return stack.logs_dir


ClientFactory = Callable[..., httpx.Client]


@pytest.fixture
def client_factory(stack: Stack) -> Iterator[ClientFactory]:
    """httpx clients on the gateway; `source_ip=` binds a loopback address of its own."""
    made: list[httpx.Client] = []

    def make(source_ip: str | None = None, **kw: Any) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=source_ip) if source_ip else None
        c = httpx.Client(base_url=stack.gateway_url, transport=transport, timeout=30.0, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def source_ip() -> str:
    """A loopback source address no other test uses (auth throttles per client address)."""
    n = next(_source_ips)
    return f"127.0.{n // 250}.{n % 250 + 2}"


@pytest.fixture
def gw(client_factory: ClientFactory, source_ip: str) -> httpx.Client:
    """A gateway client with a source address of its own."""
    return client_factory(source_ip)


@dataclass
class User:
    id: int
    email: str
    password: str
    roles: list[str]
    access_token: str
    refresh_token: str
    cookies: httpx.Cookies

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    @property
    def csrf_token(self) -> str:
        value = self.cookies.get("csrf_token")
        assert value, "login set no csrf_token cookie"
        return value


UserFactory = Callable[..., User]


@pytest.fixture
def make_user(client_factory: ClientFactory, source_ip: str, secrets_seen: Secrets) -> UserFactory:
    """Register through the gateway, log in (on a client of its own, so no other client holds
    the cookies), and return the tokens and cookies."""

    def make(roles: tuple[str, ...] = ("trader",)) -> User:
        c = client_factory(source_ip)
        email = f"u-{uuid.uuid4().hex[:12]}@example.com"
        password = f"pw-{uuid.uuid4().hex}"
        secrets_seen.add(password)
        reg = c.post(
            "/auth/register",
            json={"email": email, "password": password, "name": "E2E User", "roles": list(roles)},
        )
        assert reg.status_code == 201, reg.text
        login = c.post("/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        body = login.json()
        secrets_seen.add(body["access_token"], body.get("refresh_token"))
        secrets_seen.add(*(cookie.value for cookie in login.cookies.jar))
        return User(
            id=body["user"]["id"],
            email=email,
            password=password,
            roles=list(roles),
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token", ""),
            cookies=httpx.Cookies(login.cookies),
        )

    return make
