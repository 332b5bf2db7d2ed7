"""Races on one session are settled by its row lock: never two winners, never a 5xx."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)
ALLOWED_STATES = {"DRAFT", "RUNNING", "PAUSED", "COMPLETED", "ARCHIVED"}


@pytest.fixture
async def iid(kit: Any) -> int:
    value: int = await kit.instrument()
    await kit.bars(value, T0, 300, MIN)
    return value


async def _invariants(kit: Any, sid: int) -> Any:
    """The row is in a state the lifecycle allows, with a consistent clock."""
    row = (
        await kit.sql(
            "SELECT session_status, current_ts, anchor_at FROM trading_sessions WHERE id = :id",
            id=sid,
        )
    )[0]
    assert row.session_status in ALLOWED_STATES
    assert (row.anchor_at is not None) == (row.session_status == "RUNNING")
    assert (row.current_ts is None) == (row.session_status == "DRAFT")
    return row


async def test_twenty_parallel_starts_have_exactly_one_winner(
    kit: Any, client: httpx.AsyncClient, iid: int
) -> None:
    """20 parallel `start` calls on one DRAFT session: exactly one 200, the other 19 are 400."""
    sid = (await kit.session(iid, speed="0.5x"))["id"]
    h = kit.tokens.headers(1)
    responses = await asyncio.gather(
        *(client.post(f"/sessions/{sid}/start", headers=h) for _ in range(20))
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * 19, codes
    for r in responses:
        if r.status_code == 400:
            assert "Invalid state transition" in r.json()["detail"]
    row = await _invariants(kit, sid)
    assert (row.session_status, row.current_ts) == ("RUNNING", T0)


async def test_parallel_stops_have_one_winner(
    kit: Any, client: httpx.AsyncClient, iid: int
) -> None:
    sid = (await kit.session(iid, speed="0.5x"))["id"]
    h = kit.tokens.headers(1)
    assert (await client.post(f"/sessions/{sid}/start", headers=h)).status_code == 200
    responses = await asyncio.gather(
        *(client.post(f"/sessions/{sid}/stop", headers=h) for _ in range(10)),
        *(
            client.put(f"/sessions/{sid}", json={"session_status": "COMPLETED"}, headers=h)
            for _ in range(10)
        ),
    )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * 19, codes
    assert (await _invariants(kit, sid)).session_status == "COMPLETED"


async def test_parallel_steps_are_serialized_not_lost(
    kit: Any, client: httpx.AsyncClient, iid: int
) -> None:
    """Each of 15 parallel one-bar steps on a PAUSED session reveals its own bar."""
    sid = (await kit.session(iid, speed="0.5x"))["id"]
    h = kit.tokens.headers(1)
    for action in ("start", "pause"):
        assert (await client.post(f"/sessions/{sid}/{action}", headers=h)).status_code == 200
    responses = await asyncio.gather(
        *(client.post(f"/sessions/{sid}/step", json={"bars": 1}, headers=h) for _ in range(15))
    )
    assert all(r.status_code == 200 for r in responses)
    seen = sorted(r.json()["current_ts"] for r in responses)
    assert seen == [(T0 + i * MIN).strftime("%Y-%m-%dT%H:%M:%SZ") for i in range(1, 16)]
    assert (await _invariants(kit, sid)).current_ts == T0 + 15 * MIN


async def test_mixed_parallel_lifecycle_calls_leave_an_allowed_state(
    kit: Any, client: httpx.AsyncClient, iid: int
) -> None:
    """Parallel PUT / pause / resume / stop / step / seek / GET: every answer is 200 or 400,
    no 5xx, and the session ends in a state the seed allows with a consistent clock."""
    rng = random.Random(7)
    h = kit.tokens.headers(1)
    for _round in range(3):
        sid = (await kit.session(iid, speed="15x"))["id"]
        assert (await client.post(f"/sessions/{sid}/start", headers=h)).status_code == 200
        calls = []
        for i in range(30):
            kind = rng.choice(["pause", "resume", "stop", "put", "step", "seek", "get", "archive"])
            if kind == "put":
                body = rng.choice(
                    [
                        {"session_status": "PAUSED"},
                        {"session_status": "RUNNING"},
                        {"speed": rng.choice(["0.5x", "2x", "15x"])},
                        {"session_status": "COMPLETED", "speed": "1x"},
                        {"end_ts": (T0 + (200 + i) * MIN).isoformat()},
                    ]
                )
                calls.append(client.put(f"/sessions/{sid}", json=body, headers=h))
            elif kind == "step":
                calls.append(client.post(f"/sessions/{sid}/step", json={"bars": 2}, headers=h))
            elif kind == "seek":
                ts = (T0 + rng.randint(0, 250) * MIN).isoformat()
                calls.append(client.post(f"/sessions/{sid}/seek", json={"ts": ts}, headers=h))
            elif kind == "get":
                calls.append(client.get(f"/sessions/{sid}", headers=h))
            else:
                calls.append(client.post(f"/sessions/{sid}/{kind}", headers=h))
        responses = await asyncio.gather(*calls)
        codes = [r.status_code for r in responses]
        assert all(c in (200, 400, 422) for c in codes), codes  # 422: a seek that lost a race
        stops = [
            r
            for r in responses
            if r.status_code == 200
            and r.request.method == "POST"
            and r.request.url.path.endswith("/stop")
        ]
        assert len(stops) <= 1
        row = await _invariants(kit, sid)
        final = (await client.get(f"/sessions/{sid}", headers=h)).json()
        assert final["session_status"] in {"RUNNING", "PAUSED", "COMPLETED", "ARCHIVED"}
        if row.session_status != "RUNNING":
            assert final["current_ts"] == row.current_ts.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_parallel_delete_and_start_never_500(
    kit: Any, client: httpx.AsyncClient, iid: int
) -> None:
    h = kit.tokens.headers(1)
    sid = (await kit.session(iid))["id"]
    responses = await asyncio.gather(
        *(client.post(f"/sessions/{sid}/start", headers=h) for _ in range(5)),
        *(client.delete(f"/sessions/{sid}", headers=h) for _ in range(5)),
        *(client.get(f"/sessions/{sid}", headers=h) for _ in range(5)),
    )
    codes = [r.status_code for r in responses]
    assert all(c < 500 for c in codes), codes
    assert codes[5:10].count(204) == 1  # one delete wins, the others find nothing
    assert (await client.get(f"/sessions/{sid}", headers=h)).status_code == 404


async def test_parallel_idempotent_creates_make_one_session(
    kit: Any, client: httpx.AsyncClient, iid: int
) -> None:
    """SPEC 6: retries with one Idempotency-Key create one session (in flight: 409)."""
    headers = {**kit.tokens.headers(1), "Idempotency-Key": "k-1"}
    body = kit.session_body(iid)
    responses = await asyncio.gather(
        *(client.post("/sessions", json=body, headers=headers) for _ in range(10))
    )
    codes = [r.status_code for r in responses]
    assert set(codes) <= {201, 409}, codes
    assert 201 in codes
    assert len({r.json()["id"] for r in responses if r.status_code == 201}) == 1
    total = (await client.get("/sessions", headers=kit.tokens.headers(1))).json()["total"]
    assert total == 1
