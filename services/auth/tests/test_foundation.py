"""Foundation checks for auth: health, readiness, the OpenAPI document, migrations."""

from __future__ import annotations

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI

from auth_service.db import metadata


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["migrations"] == "current"


async def test_migrations_match_the_models(auth_app: FastAPI) -> None:
    """Migration 0001 creates exactly what the models describe (autogenerate finds nothing)."""
    async with auth_app.state.db.engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
        )
    assert diff == []


async def test_openapi_lists_every_route_with_its_error_statuses(
    client: httpx.AsyncClient,
) -> None:
    """Routes live under /auth unchanged (no prefix stripping at the gateway), and each one's
    error statuses are in its `responses`."""
    paths = (await client.get("/openapi.json")).json()["paths"]
    expected = {
        ("/auth/register", "post"): {"201", "409", "422"},
        ("/auth/login", "post"): {"200", "401", "422", "429"},
        ("/auth/refresh", "post"): {"200", "401", "422"},
        ("/auth/logout", "post"): {"204"},
        ("/auth/me", "get"): {"200", "401"},
        ("/auth/.well-known/jwks.json", "get"): {"200"},
    }
    for (path, method), statuses in expected.items():
        operation = paths[path][method]
        assert statuses <= set(operation["responses"]), (path, operation["responses"].keys())
        assert operation["summary"]


async def test_unknown_route_is_404_in_detail_format(client: httpx.AsyncClient) -> None:
    resp = await client.get("/auth/nope")
    assert resp.status_code == 404
    assert resp.json() == {"detail": "Not Found"}
