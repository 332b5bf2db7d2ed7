"""The commissioner's commission setting: GET/PUT /api/settings (SPEC section 4, 8)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from devstack.testing import TokenFactory

C1, C2 = 301, 302


def rate_of(resp: httpx.Response) -> Decimal:
    assert resp.status_code == 200, resp.text
    body = resp.json(parse_float=Decimal)
    assert body["success"] is True and body["meta"]["timestamp"].endswith("Z")
    return Decimal(body["data"]["commission_rate"])


async def test_default_commission_rate_is_5(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """SPEC: the commission rate defaults to 5 (a percent), as a JSON number."""
    resp = await client.get("/api/settings", headers=tokens.headers(C1, ["commissioner"]))
    assert rate_of(resp) == 5
    assert resp.json()["data"]["commission_rate"] == 5.0


async def test_put_settings_sets_the_rate(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    """PUT /api/settings {commission_rate}: stored and read back; 0 and 100 are allowed."""
    h = tokens.headers(C1, ["commissioner"])
    for value in (7.25, 0, 100, 12.5):
        assert rate_of(
            await client.put("/api/settings", json={"commission_rate": value}, headers=h)
        ) == Decimal(str(value))
        assert rate_of(await client.get("/api/settings", headers=h)) == Decimal(str(value))


@pytest.mark.parametrize(
    "body",
    [
        {"commission_rate": -0.01},
        {"commission_rate": 100.01},
        {"commission_rate": 5.125},
        {"commission_rate": "five"},
        {"commission_rate": None},
        {"commission_rate": True},
        {},
        {"commission_rate": 5, "extra": 1},
    ],
)
async def test_put_settings_validation_is_400(
    client: httpx.AsyncClient, tokens: TokenFactory, body: dict[str, Any]
) -> None:
    """commission_rate is 0..100 with at most 2 decimals, else 400 VALIDATION_ERROR (never
    rounded); the stored rate is unchanged."""
    h = tokens.headers(C1, ["commissioner"])
    resp = await client.put("/api/settings", json=body, headers=h)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"] == "VALIDATION_ERROR"
    assert rate_of(await client.get("/api/settings", headers=h)) == 5


async def test_settings_are_per_commissioner(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """A commissioner's setting is their own: another commissioner still sees the default."""
    h1, h2 = tokens.headers(C1, ["commissioner"]), tokens.headers(C2, ["commissioner"])
    await client.put("/api/settings", json={"commission_rate": 9}, headers=h1)
    assert rate_of(await client.get("/api/settings", headers=h2)) == 5
    await client.put("/api/settings", json={"commission_rate": 3}, headers=h2)
    assert rate_of(await client.get("/api/settings", headers=h1)) == 9


async def test_settings_need_the_commissioner_role(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    """401 without a token, 403 for a trader, on read and write."""
    assert (await client.put("/api/settings", json={"commission_rate": 1})).status_code == 401
    resp = await client.put(
        "/api/settings", json={"commission_rate": 1}, headers=tokens.headers(C1, ["trader"])
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "FORBIDDEN"
