"""Foundation checks for auction: readiness, the envelope on auth errors and unknown routes."""

from __future__ import annotations

import httpx
import pytest

from devstack.testing import TokenFactory


@pytest.mark.in_process_only  # the gateway routes no /readyz: each service's own probe
async def test_readyz(client: httpx.AsyncClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200, ready.text


async def test_anonymous_is_401_envelope(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/sessions")
    assert resp.status_code == 401
    body = resp.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UNAUTHORIZED"
    assert body["meta"]["timestamp"].endswith("Z")


async def test_unknown_api_route_is_404_envelope(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/nope")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "NOT_FOUND"


async def test_commissioner_reaches_sessions(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    resp = await client.get("/api/sessions", headers=tokens.headers(7, ["commissioner"]))
    assert resp.status_code == 200
    assert resp.json()["data"] == []
