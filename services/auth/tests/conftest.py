"""Auth tests: a migrated database of their own and the app in-process over https (so the
Secure cookies travel like in a browser)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from auth_service.config import Settings
from auth_service.main import ALEMBIC_INI, create_app
from devstack.testing import TEST_AUDIENCE, TEST_ISSUER, PgCluster

# Cheap Argon2id for speed; the production parameters have their own test.
FAST_HASH = {"password_hash_time_cost": 1, "password_hash_memory_kib": 1024}
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def auth_db_url(pg_cluster: PgCluster) -> str:
    return pg_cluster.database("auth", ALEMBIC_INI)


@pytest.fixture(scope="session")
def make_settings(auth_db_url: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": auth_db_url,
            "jwt_issuer": TEST_ISSUER,
            "jwt_audience": TEST_AUDIENCE,
            "environment": "test",
            **FAST_HASH,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture(scope="session")
async def auth_app(make_settings: Callable[..., Settings]) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=auth_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://auth.test") as c:
        yield c


@pytest.fixture(autouse=True)
async def _clean_tables(auth_app: FastAPI) -> None:
    """Each test starts from empty tables, except the signing key the app has loaded."""
    async with auth_app.state.db.engine.begin() as conn:
        tables = [
            r[0]
            for r in await conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename NOT IN ('alembic_version', 'signing_keys')"
                )
            )
        ]
        if tables:
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


Call = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def register(client: httpx.AsyncClient) -> Call:
    async def _register(
        email: str = "ann@example.com",
        password: str = PASSWORD,
        name: str = "Ann",
        **extra: Any,
    ) -> httpx.Response:
        body = {"email": email, "password": password, "name": name, **extra}
        return await client.post("/auth/register", json=body)

    return _register


@pytest.fixture
def login(client: httpx.AsyncClient) -> Call:
    async def _login(
        email: str = "ann@example.com",
        password: str = PASSWORD,
        address: str | None = None,
        **kw: Any,
    ) -> httpx.Response:
        headers = {"X-Forwarded-For": address} if address else {}
        return await client.post(
            "/auth/login", json={"email": email, "password": password}, headers=headers, **kw
        )

    return _login
