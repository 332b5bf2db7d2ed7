"""Raw candle reads (SPEC 8): admins only, `timeframe`/`from`/`to`/`limit`, and the storage
layout that makes "the last 500 bars before T" one index range scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.testing import TokenFactory

HEADER = "timestamp,open,high,low,close,volume"
START = datetime(2024, 1, 1, tzinfo=UTC)  # Monday


def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(900, ["admin"])


@pytest.fixture
async def iid(client: httpx.AsyncClient, tokens: TokenFactory) -> int:
    body = {
        "symbol": "GBPUSD",
        "digits": 5,
        "contract_size": 100000,
        "min_volume": 0.01,
        "volume_step": 0.01,
        "max_volume": 50,
    }
    resp = await client.post("/instruments", json=body, headers=admin(tokens))
    iid = int(resp.json()["id"])
    # 180 M1 bars: 00:00 .. 02:59 on Monday 2024-01-01.
    lines = [HEADER] + [
        f"{START + timedelta(minutes=i):%Y-%m-%dT%H:%M:%SZ},1.2{i:03d},1.3,1.1,1.2{i:03d},{i}"
        for i in range(180)
    ]
    imp = await client.post(
        f"/instruments/{iid}/candles",
        content="\n".join(lines),
        headers={**admin(tokens), "Content-Type": "text/csv"},
    )
    assert imp.status_code == 200, imp.text
    return iid


async def get(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, **params: Any
) -> httpx.Response:
    return await client.get(f"/instruments/{iid}/candles", params=params, headers=admin(tokens))


async def test_default_is_the_last_500_base_bars_oldest_first(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    resp = await get(client, tokens, iid)
    assert resp.status_code == 200
    body = resp.json()
    assert body["instrument_id"] == iid and body["timeframe"] == "M1"
    assert len(body["candles"]) == 180
    first = body["candles"][0]
    assert first == {
        "ts": "2024-01-01T00:00:00Z",
        "open": 1.2,
        "high": 1.3,
        "low": 1.1,
        "close": 1.2,
        "volume": 0,
    }
    assert body["candles"][-1]["ts"] == "2024-01-01T02:59:00Z"


async def test_timeframe_to_and_limit_read_backwards(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    resp = await get(client, tokens, iid, timeframe="M30", to="2024-01-01T01:30:00Z", limit=2)
    assert [c["ts"] for c in resp.json()["candles"]] == [
        "2024-01-01T01:00:00Z",
        "2024-01-01T01:30:00Z",
    ]
    h1 = (await get(client, tokens, iid, timeframe="H1")).json()["candles"]
    assert [c["ts"] for c in h1] == [f"2024-01-01T0{h}:00:00Z" for h in range(3)]
    assert h1[1]["open"] == 1.206 and h1[1]["close"] == 1.2119
    assert h1[1]["volume"] == sum(range(60, 120))


async def test_from_reads_forward_and_naive_times_are_utc(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    resp = await get(
        client, tokens, iid, timeframe="M5", **{"from": "2024-01-01T00:07:00"}, limit=3
    )
    assert [c["ts"] for c in resp.json()["candles"]] == [
        "2024-01-01T00:10:00Z",
        "2024-01-01T00:15:00Z",
        "2024-01-01T00:20:00Z",
    ]
    both = await get(
        client,
        tokens,
        iid,
        timeframe="M15",
        **{"from": "2024-01-01T01:00:00+01:00"},
        to="2024-01-01T00:30:00Z",
    )
    assert [c["ts"] for c in both.json()["candles"]] == [
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:15:00Z",
        "2024-01-01T00:30:00Z",
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"timeframe": "M2"},
        {"limit": 0},
        {"limit": 10_001},
        {"from": "not-a-date"},
        {"from": "2024-01-02T00:00:00Z", "to": "2024-01-01T00:00:00Z"},
    ],
)
async def test_bad_query_is_422(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int, params: dict[str, Any]
) -> None:
    assert (await get(client, tokens, iid, **params)).status_code == 422


async def test_raw_candles_are_admin_only(
    client: httpx.AsyncClient, tokens: TokenFactory, iid: int
) -> None:
    """A bar is never shown to a non-admin outside a session (no look-ahead)."""
    assert (await client.get(f"/instruments/{iid}/candles")).status_code == 401
    trader = await client.get(f"/instruments/{iid}/candles", headers=tokens.headers(5))
    assert trader.status_code == 403
    assert (await get(client, tokens, 4242)).status_code == 404


async def test_last_bars_before_t_is_an_index_range_scan(iid: int, trading_app: Any) -> None:
    """The primary key (instrument_id, timeframe, ts) serves the replay's read in order: an
    index scan with no sort, whatever the table's size."""
    async with trading_app.state.db.engine.connect() as conn:
        # Only the index's own ways in: with few rows the planner may take a bitmap scan,
        # which reads unordered and sorts; whether it does depends on the table's statistics,
        # so on what the tests before this one left in it.
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        await conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(
            r[0]
            for r in await conn.execute(
                text(
                    "EXPLAIN SELECT ts, open, high, low, close, volume FROM candles "
                    "WHERE instrument_id = :i AND timeframe = 'H1' AND ts <= :t "
                    "ORDER BY ts DESC LIMIT 500"
                ),
                {"i": iid, "t": START + timedelta(hours=2)},
            )
        )
    assert "Index Scan Backward using pk_candles" in plan, plan
    assert "Sort" not in plan, plan
