"""Instruments API (SPEC 3): reads for anyone signed in, writes for admins, validation 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.testing import TokenFactory

EURUSD: dict[str, Any] = {
    "symbol": "EURUSD",
    "description": "Euro vs US Dollar",
    "digits": 5,
    "contract_size": 100000,
    "min_volume": 0.01,
    "volume_step": 0.01,
    "max_volume": 100,
}


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(900, ["admin"])


async def create(client: httpx.AsyncClient, tokens: TokenFactory, **over: Any) -> dict[str, Any]:
    resp = await client.post("/instruments", json={**EURUSD, **over}, headers=admin(tokens))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def test_create_returns_201_with_every_field_and_computed_point(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    body = await create(client, tokens)
    assert isinstance(body["id"], int)
    assert body["symbol"] == "EURUSD"
    assert body["description"] == "Euro vs US Dollar"
    assert body["digits"] == 5
    assert body["point"] == 0.00001  # 10^-digits, a JSON number
    assert body["contract_size"] == 100000
    assert body["min_volume"] == 0.01 and body["volume_step"] == 0.01
    assert body["max_volume"] == 100
    assert body["base_timeframe"] == "M1"  # the default
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")


async def test_point_follows_digits(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    gold = await create(client, tokens, symbol="XAUUSD", digits=2, contract_size=100)
    assert gold["point"] == 0.01
    idx = await create(client, tokens, symbol="JP225", digits=0)
    assert idx["point"] == 1


async def test_get_and_list_for_any_signed_in_user(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    ids = [(await create(client, tokens, symbol=f"SYM{i}"))["id"] for i in range(3)]
    trader = tokens.headers(5)
    one = await client.get(f"/instruments/{ids[1]}", headers=trader)
    assert one.status_code == 200 and one.json()["symbol"] == "SYM1"
    page = await client.get("/instruments", params={"page": 2, "limit": 2}, headers=trader)
    assert page.status_code == 200
    assert page.json()["total"] == 3 and page.json()["page"] == 2 and page.json()["limit"] == 2
    assert [i["id"] for i in page.json()["instruments"]] == [ids[2]]
    default = (await client.get("/instruments", headers=trader)).json()
    assert default["page"] == 1 and default["limit"] == 20 and len(default["instruments"]) == 3


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"page": 0}])
async def test_list_paging_out_of_range_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, params: dict[str, int]
) -> None:
    resp = await client.get("/instruments", params=params, headers=tokens.headers(5))
    assert resp.status_code == 422


async def test_anonymous_is_401(client: httpx.AsyncClient) -> None:
    assert (await client.get("/instruments")).status_code == 401
    assert (await client.get("/instruments/1")).status_code == 401
    resp = await client.post("/instruments", json=EURUSD)
    assert resp.status_code == 401 and resp.json() == {"detail": "Not authenticated"}


async def test_non_admin_writes_are_403(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    inst = await create(client, tokens)
    trader = tokens.headers(5, ["trader"])
    assert (await client.post("/instruments", json=EURUSD, headers=trader)).status_code == 403
    put = await client.put(f"/instruments/{inst['id']}", json={"digits": 3}, headers=trader)
    assert put.status_code == 403
    assert (await client.delete(f"/instruments/{inst['id']}", headers=trader)).status_code == 403
    # Nothing changed.
    again = await client.get(f"/instruments/{inst['id']}", headers=trader)
    assert again.json()["digits"] == 5


async def test_unknown_instrument_is_404(client: httpx.AsyncClient, tokens: TokenFactory) -> None:
    h = admin(tokens)
    assert (await client.get("/instruments/999", headers=h)).status_code == 404
    assert (await client.put("/instruments/999", json={"digits": 2}, headers=h)).status_code == 404
    assert (await client.delete("/instruments/999", headers=h)).status_code == 404
    assert (await client.get("/instruments/99999999999999999999", headers=h)).status_code == 422


async def test_duplicate_symbol_is_409_and_symbols_are_case_sensitive(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    await create(client, tokens)
    dup = await client.post("/instruments", json=EURUSD, headers=admin(tokens))
    assert dup.status_code == 409
    assert "EURUSD" in dup.json()["detail"]
    await create(client, tokens, symbol="eurusd")  # a different symbol
    other = await create(client, tokens, symbol="GBPUSD")
    rename = await client.put(
        f"/instruments/{other['id']}", json={"symbol": "EURUSD"}, headers=admin(tokens)
    )
    assert rename.status_code == 409


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"min_volume": 5, "max_volume": 1}, "max_volume"),  # min_volume <= max_volume
        ({"volume_step": 0}, "volume_step"),  # volume_step > 0
        ({"volume_step": -0.01}, "volume_step"),
        ({"min_volume": 0}, "min_volume"),
        ({"contract_size": 0}, "contract_size"),
        ({"digits": 11}, "digits"),  # digits 0..10
        ({"digits": -1}, "digits"),
        ({"symbol": ""}, "symbol"),
        ({"symbol": "EUR USD"}, "symbol"),
        ({"symbol": "X" * 33}, "symbol"),
        ({"base_timeframe": "M2"}, "base_timeframe"),
        ({"base_timeframe": "M10"}, "base_timeframe"),  # M15 is not derivable from M10
        ({"max_volume": "NaN"}, "max_volume"),
        ({"contract_size": 1e13}, "contract_size"),
        ({"min_volume": 0.000000001}, "min_volume"),
        ({"unknown": 1}, "unknown"),
    ],
)
async def test_invalid_instrument_is_422_naming_the_field(
    client: httpx.AsyncClient, tokens: TokenFactory, override: dict[str, Any], field: str
) -> None:
    resp = await client.post("/instruments", json={**EURUSD, **override}, headers=admin(tokens))
    assert resp.status_code == 422, resp.text
    assert any(field in err["loc"] for err in resp.json()["detail"]), resp.json()


async def test_missing_required_field_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    body = {k: v for k, v in EURUSD.items() if k != "digits"}
    resp = await client.post("/instruments", json=body, headers=admin(tokens))
    assert resp.status_code == 422


async def test_put_changes_only_given_fields_and_recomputes_point(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    inst = await create(client, tokens)
    resp = await client.put(
        f"/instruments/{inst['id']}",
        json={"digits": 3, "description": "renamed", "base_timeframe": "M5"},
        headers=admin(tokens),
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["digits"] == 3 and body["point"] == 0.001
    assert body["description"] == "renamed" and body["base_timeframe"] == "M5"
    assert body["symbol"] == "EURUSD" and body["max_volume"] == 100
    assert body["updated_at"] >= inst["updated_at"]


async def test_put_validates_the_merged_instrument(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    inst = await create(client, tokens)
    resp = await client.put(
        f"/instruments/{inst['id']}", json={"min_volume": 200}, headers=admin(tokens)
    )
    assert resp.status_code == 422  # 200 > max_volume 100
    resp = await client.put(
        f"/instruments/{inst['id']}", json={"digits": None}, headers=admin(tokens)
    )
    assert resp.status_code == 422


async def test_base_timeframe_cannot_change_once_candles_exist(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    inst = await create(client, tokens)
    csv = "timestamp,open,high,low,close,volume\n2024-01-02T00:00:00Z,1.1,1.2,1.0,1.15,5\n"
    imp = await client.post(
        f"/instruments/{inst['id']}/candles",
        content=csv,
        headers={**admin(tokens), "Content-Type": "text/csv"},
    )
    assert imp.status_code == 200, imp.text
    resp = await client.put(
        f"/instruments/{inst['id']}", json={"base_timeframe": "H1"}, headers=admin(tokens)
    )
    assert resp.status_code == 409
    same = await client.put(
        f"/instruments/{inst['id']}", json={"base_timeframe": "M1"}, headers=admin(tokens)
    )
    assert same.status_code == 200


async def test_delete_is_204_and_removes_its_candles(
    client: httpx.AsyncClient, tokens: TokenFactory, trading_app: Any
) -> None:
    inst = await create(client, tokens)
    csv = "timestamp,open,high,low,close,volume\n2024-01-02T00:00:00Z,1.1,1.2,1.0,1.15,5\n"
    await client.post(
        f"/instruments/{inst['id']}/candles",
        content=csv,
        headers={**admin(tokens), "Content-Type": "text/csv"},
    )
    resp = await client.delete(f"/instruments/{inst['id']}", headers=admin(tokens))
    assert resp.status_code == 204 and resp.content == b""
    assert (
        await client.get(f"/instruments/{inst['id']}", headers=admin(tokens))
    ).status_code == 404
    async with trading_app.state.db.engine.connect() as conn:
        left = (await conn.execute(text("SELECT count(*) FROM candles"))).scalar_one()
    assert left == 0


async def test_delete_while_referenced_is_409_and_keeps_everything(
    client: httpx.AsyncClient, tokens: TokenFactory, trading_app: Any
) -> None:
    """A trading session's foreign key (ON DELETE RESTRICT) makes DELETE answer 409."""
    inst = await create(client, tokens)
    engine = trading_app.state.db.engine
    # Stands in for trading_sessions.instrument_id: the same kind of foreign key.
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "CREATE TABLE test_instrument_users (instrument_id BIGINT NOT NULL "
                "REFERENCES instruments (id) ON DELETE RESTRICT)"
            )
        )
        await conn.execute(text("INSERT INTO test_instrument_users VALUES (:i)"), {"i": inst["id"]})
    try:
        resp = await client.delete(f"/instruments/{inst['id']}", headers=admin(tokens))
        assert resp.status_code == 409, resp.text
        assert "session" in resp.json()["detail"]
        still = await client.get(f"/instruments/{inst['id']}", headers=admin(tokens))
        assert still.status_code == 200
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DROP TABLE test_instrument_users"))


async def test_create_with_idempotency_key_creates_once(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    h = {**admin(tokens), "Idempotency-Key": "create-eurusd-1"}
    first = await client.post("/instruments", json=EURUSD, headers=h)
    second = await client.post("/instruments", json=EURUSD, headers=h)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    other = await client.post("/instruments", json={**EURUSD, "digits": 4}, headers=h)
    assert other.status_code == 422
    listing = await client.get("/instruments", headers=admin(tokens))
    assert listing.json()["total"] == 1


@pytest.mark.in_process_only  # the gateway does not route /openapi.json
async def test_openapi_documents_instrument_errors(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    post = doc["paths"]["/instruments"]["post"]
    assert {"201", "401", "403", "409", "422"} <= set(post["responses"])
    delete = doc["paths"]["/instruments/{instrument_id}"]["delete"]
    assert {"204", "401", "403", "404", "409"} <= set(delete["responses"])
    imp = doc["paths"]["/instruments/{instrument_id}/candles"]["post"]
    assert {"text/csv", "application/json"} <= set(imp["requestBody"]["content"])
    assert {"200", "401", "403", "404", "413", "415", "422"} <= set(imp["responses"])
    raw = doc["paths"]["/instruments/{instrument_id}/candles"]["get"]
    assert {"200", "401", "403", "404", "422"} <= set(raw["responses"])
