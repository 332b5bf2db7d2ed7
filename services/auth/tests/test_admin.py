"""The admin account created at start from AUTH_ADMIN_EMAIL / AUTH_ADMIN_PASSWORD."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from auth_service.config import Settings
from auth_service.main import ALEMBIC_INI, create_app
from devstack.testing import PgCluster

ADMIN = {"admin_email": "Root@Example.com", "admin_password": "admin-password-1"}


@pytest.fixture
def admin_db(pg_cluster: PgCluster) -> str:
    """A fresh database per test: startup behaviour is the subject here."""
    return pg_cluster.database("auth_admin", ALEMBIC_INI)


@pytest.fixture
async def start(
    make_settings: Callable[..., Settings], admin_db: str
) -> AsyncIterator[Callable[..., Any]]:
    async with AsyncExitStack() as stack:

        async def _start(**overrides: Any) -> FastAPI:
            app = create_app(make_settings(database_url=admin_db, **overrides))
            await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        yield _start


async def _users(app: FastAPI) -> list[Any]:
    async with app.state.db.engine.connect() as conn:
        rows = await conn.execute(text("SELECT id, email, roles FROM users ORDER BY id"))
        return list(rows)


async def test_admin_is_created_at_start_with_all_roles(start: Callable[..., Any]) -> None:
    """Created from admin_email/admin_password when both are set: roles admin, trader,
    commissioner; it signs in like anyone else."""
    app = await start(**ADMIN)
    users = await _users(app)
    assert [(u.email, sorted(u.roles)) for u in users] == [
        ("root@example.com", ["admin", "commissioner", "trader"])
    ]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://auth.test") as client:
        resp = await client.post(
            "/auth/login", json={"email": "root@example.com", "password": "admin-password-1"}
        )
        assert resp.status_code == 200, resp.text
        assert "admin" in resp.json()["user"]["roles"]


async def test_admin_bootstrap_is_idempotent_across_restarts_and_replicas(
    start: Callable[..., Any],
) -> None:
    """Concurrent replicas and restarts leave exactly one admin (ON CONFLICT), kept as is."""
    apps = await asyncio.gather(*(start(**ADMIN) for _ in range(3)))
    first = await _users(apps[0])
    assert len(first) == 1
    restarted = await start(admin_email="root@example.com", admin_password="another-password")
    assert await _users(restarted) == first  # same id, same roles; the password is kept
    transport = httpx.ASGITransport(app=restarted)
    async with httpx.AsyncClient(transport=transport, base_url="https://auth.test") as client:
        kept = await client.post(
            "/auth/login", json={"email": "root@example.com", "password": "admin-password-1"}
        )
        assert kept.status_code == 200


@pytest.mark.parametrize(
    "overrides",
    [{}, {"admin_email": "root@example.com"}, {"admin_password": "admin-password-1"}],
)
async def test_no_admin_unless_both_settings_are_set(
    start: Callable[..., Any], overrides: dict[str, str]
) -> None:
    app = await start(**overrides)
    assert await _users(app) == []


async def test_existing_non_admin_account_is_not_promoted(start: Callable[..., Any]) -> None:
    """An account someone registered with the admin email does not become admin."""
    app = await start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://auth.test") as client:
        body = {"email": "root@example.com", "password": "squatter-pass", "name": "Squatter"}
        assert (await client.post("/auth/register", json=body)).status_code == 201
    again = await start(**ADMIN)
    assert [u.roles for u in await _users(again)] == [["trader"]]


def test_admin_password_must_follow_the_password_rule(
    make_settings: Callable[..., Settings],
) -> None:
    with pytest.raises(ValueError, match="admin_password"):
        make_settings(admin_email="root@example.com", admin_password="short")
