"""Foundation checks for trading: health, readiness, auth on the API, request ids."""

from __future__ import annotations

import httpx
import pytest

from devstack.testing import TokenFactory


@pytest.mark.in_process_only  # the gateway routes no /readyz: each service's own probe
async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["migrations"] == "current"


async def test_anonymous_is_401_in_trading_format(client: httpx.AsyncClient) -> None:
    resp = await client.get("/sessions")
    assert resp.status_code == 401
    assert resp.json() == {"detail": "Not authenticated"}


async def test_bearer_token_reaches_sessions(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    resp = await client.get("/sessions", headers=tokens.headers(1))
    assert resp.status_code == 200
    assert resp.json() == {"sessions": [], "total": 0, "page": 1, "limit": 20}


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    resp = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert resp.headers["x-request-id"] == "abc-123"
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) == 32
