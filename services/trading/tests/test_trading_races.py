"""Races on trading are settled by the session's row lock: one close, margin never
over-committed, no bar processed twice, never a 5xx; and two replicas of the service agree on
a fill, without either showing it before its bar is revealed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.testing import through_gateway
from trading_service.config import Settings
from trading_service.main import create_app

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)
FLAT = ("1.10000", "1.10010", "1.09990", "1.10000")
OPENER = ("1.10000", "1.10080", "1.09950", "1.10050")
DIP = ("1.10000", "1.10010", "1.09700", "1.10000")  # bid low 1.09700
SPIKE = ("1.10000", "1.10300", "1.09990", "1.10000")  # bid high 1.10300


def ts(i: int) -> str:
    return (T0 + i * MIN).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _started(kit: Any, client: httpx.AsyncClient, rows: list[Any], **over: object) -> int:
    iid = await kit.instrument()
    await kit.ohlc(iid, T0, rows)
    over.setdefault("end_ts", None)
    over.setdefault("speed", "0.5x")
    sid = int((await kit.session(iid, **over))["id"])
    h = kit.tokens.headers(1)
    assert (await client.post(f"/sessions/{sid}/start", headers=h)).status_code == 200
    return sid


async def _ledger_identity(kit: Any, sid: int) -> None:
    ((total, balance),) = await kit.sql(
        "SELECT (SELECT sum(amount) FROM transactions WHERE session_id = :id), balance "
        "FROM trading_sessions WHERE id = :id",
        id=sid,
    )
    assert total == balance


async def test_twenty_parallel_closes_of_one_position_close_it_once(
    kit: Any, client: httpx.AsyncClient
) -> None:
    sid = await _started(kit, client, [OPENER, FLAT])
    h = kit.tokens.headers(1)
    await client.post(f"/sessions/{sid}/pause", headers=h)
    pos = (
        await client.post(
            f"/sessions/{sid}/positions", json={"side": "BUY", "volume": 1}, headers=h
        )
    ).json()
    replies = await asyncio.gather(
        *(client.post(f"/positions/{pos['id']}/close", headers=h) for _ in range(20))
    )
    assert sorted(r.status_code for r in replies) == [200] + [400] * 19
    rows = await kit.sql(
        "SELECT type, count(*) FROM transactions WHERE session_id = :id GROUP BY type", id=sid
    )
    assert dict((r[0], r[1]) for r in rows) == {"DEPOSIT": 1, "COMMISSION": 2, "PROFIT": 1}
    await _ledger_identity(kit, sid)


async def test_parallel_opens_never_take_used_margin_past_equity(
    kit: Any, client: httpx.AsyncClient
) -> None:
    """Each BUY 1.0 needs 1,100.75 of margin and costs 7 + 25 (commission, spread and
    slippage at the close): the k-th fits while 1,100.75 <= 10,000 - 1,132.75 (k - 1), so
    exactly 8 of 20 parallel opens succeed and 12 are 422, whatever the interleaving."""
    sid = await _started(kit, client, [OPENER, FLAT])
    h = kit.tokens.headers(1)
    await client.post(f"/sessions/{sid}/pause", headers=h)
    replies = await asyncio.gather(
        *(
            client.post(f"/sessions/{sid}/positions", json={"side": "BUY", "volume": 1}, headers=h)
            for _ in range(20)
        )
    )
    assert sorted(r.status_code for r in replies) == [201] * 8 + [422] * 12
    account = (await client.get(f"/sessions/{sid}/account", headers=h)).json()
    assert account["used_margin"] == 8 * 1100.75 <= account["equity"]
    await _ledger_identity(kit, sid)


async def test_parallel_reads_of_a_running_session_process_each_bar_once(
    kit: Any, client: httpx.AsyncClient
) -> None:
    """A RUNNING session whose clock passed a TP (bar 5) and an order (bar 8): 20 parallel
    reads of every kind settle it once: one CLOSE, one filled order, one PROFIT row."""
    rows = [OPENER] + [FLAT] * 4 + [SPIKE] + [FLAT] * 2 + [DIP] + [FLAT] * 30
    sid = await _started(kit, client, rows, speed="1x")
    h = kit.tokens.headers(1)
    await client.post(f"/sessions/{sid}/pause", headers=h)
    pos = (
        await client.post(
            f"/sessions/{sid}/positions",
            json={"side": "BUY", "volume": 1, "take_profit": 1.102},
            headers=h,
        )
    ).json()
    order = await client.post(
        f"/sessions/{sid}/orders",
        json={"type": "LIMIT", "side": "BUY", "volume": 1, "price": 1.0975},
        headers=h,
    )
    assert order.status_code == 201, order.text
    await client.post(f"/sessions/{sid}/resume", headers=h)
    await kit.rewind_anchor(sid, 12)  # 12 bars due at 1x: bars 1..12 revealed at once
    urls = [
        f"/sessions/{sid}",
        f"/sessions/{sid}/positions",
        f"/sessions/{sid}/orders",
        f"/sessions/{sid}/transactions",
        f"/sessions/{sid}/account",
        f"/positions/{pos['id']}",
        f"/sessions/{sid}/candles?limit=5",
    ]
    replies = await asyncio.gather(*(client.get(urls[i % len(urls)], headers=h) for i in range(21)))
    assert all(r.status_code == 200 for r in replies), [
        r.text for r in replies if r.status_code != 200
    ]
    fills = await kit.sql("SELECT kind, ts FROM fills WHERE session_id = :id ORDER BY id", id=sid)
    assert [(k, t) for k, t in fills] == [
        ("OPEN", T0),
        ("CLOSE", T0 + 5 * MIN),
        ("ORDER_FILLED", T0 + 8 * MIN),
    ]
    profits = await kit.sql(
        "SELECT count(*) FROM transactions WHERE session_id = :id AND type = 'PROFIT'", id=sid
    )
    assert profits[0][0] == 1
    await _ledger_identity(kit, sid)


# --- two replicas ---


@pytest.fixture
async def second_replica(
    trading_app: Any, trading_db_url: str, tokens: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """Another trading replica on the same database. Through the gateway the first replica
    is the real service process and this one is the in-process app; otherwise a second
    in-process app beside the first."""
    if through_gateway():
        transport = httpx.ASGITransport(app=trading_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica-b") as c:
            yield c
        return
    settings = Settings(
        database_url=trading_db_url,
        jwt_issuer=trading_app.state.settings.jwt_issuer,
        jwt_audience=trading_app.state.settings.jwt_audience,
        jwks_url="http://127.0.0.1:9/unreachable",
        environment="test",
    )
    app = create_app(settings)
    app.state.verifier.add_jwks(tokens.jwks())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica-b") as c:
            yield c


async def test_two_replicas_show_a_stop_loss_on_its_bar_reading_only_the_position(
    kit: Any, client: httpx.AsyncClient, second_replica: httpx.AsyncClient
) -> None:
    """RUNNING at 15x, SL 1.09800 first reached by bar 20: reading only GET /positions/{id},
    alternately on two replicas, both come to show it CLOSED at 1.09800 on bar 20; and no
    read shows it closed while the clock (read right after) has not revealed bar 20."""
    rows = [OPENER] + [FLAT] * 19 + [DIP] + [FLAT] * 40
    sid = await _started(kit, client, rows, speed="15x")
    h = kit.tokens.headers(1)
    pos = await client.post(
        f"/sessions/{sid}/positions",
        json={"side": "BUY", "volume": 1, "stop_loss": 1.098},
        headers=h,
    )
    assert pos.status_code == 201, pos.text
    url = f"/positions/{pos.json()['id']}"
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 10
    i = 0
    while len(seen) < 2 and time.monotonic() < deadline:
        replica = (client, second_replica)[i % 2]
        got = await replica.get(url, headers=h)
        assert got.status_code == 200, got.text
        body = got.json()
        clock = (await replica.get(f"/sessions/{sid}", headers=h)).json()["current_ts"]
        if body["status"] == "CLOSED":
            assert clock >= ts(20)
            seen[("a", "b")[i % 2]] = body
        else:
            assert body["close_ts"] is None
        i += 1
        await asyncio.sleep(0.05)
    assert set(seen) == {"a", "b"}, "both replicas show the close"
    for body in seen.values():
        assert (body["close_reason"], body["close_price"], body["close_ts"]) == (
            "STOP_LOSS",
            1.098,
            ts(20),
        )
    assert seen["a"] == seen["b"]
