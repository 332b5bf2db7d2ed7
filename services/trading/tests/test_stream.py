"""SPEC 3, replay clock: `GET /sessions/{id}/stream`, Server-Sent Events, one event per
revealed bar at playback speed, never a bar after the clock's current_ts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import ANY

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from devstack.testing import through_gateway
from trading_service.sessions import stream as stream_module

T0 = datetime(2024, 1, 1, tzinfo=UTC)
MIN = timedelta(minutes=1)


def bar(i: int) -> str:
    return (T0 + i * MIN).strftime("%Y-%m-%dT%H:%M:%SZ")


def index(ts: str) -> int:
    """The M1 bar number of an ISO timestamp of the standard data set."""
    return int((datetime.fromisoformat(ts) - T0) / MIN)


class Sse:
    """Reads an event stream in a task of its own, so a test can wait with timeouts."""

    def __init__(self, resp: httpx.Response) -> None:
        self.resp = resp
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.ended = False
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        fields: dict[str, Any] = {}
        try:
            async for line in self.resp.aiter_lines():
                if line.startswith(":"):
                    await self.queue.put({"event": "comment", "data": line})
                elif line == "":
                    if fields:
                        fields["received"] = time.monotonic()
                        await self.queue.put(fields)
                        fields = {}
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        finally:
            await self.queue.put(None)

    async def next(self, wait: float = 3.0) -> dict[str, Any] | None:
        """The next event (data decoded), None when the server ended the stream."""
        ev = await asyncio.wait_for(self.queue.get(), wait)
        if ev is None:
            self.ended = True
        elif "data" in ev and ev["event"] != "comment":
            ev["data"] = json.loads(ev["data"])
        return ev

    async def until(self, name: str, wait: float = 3.0) -> list[dict[str, Any]]:
        """Events up to and including the first `name` event."""
        seen: list[dict[str, Any]] = []
        while True:
            ev = await self.next(wait)
            assert ev is not None, f"stream ended before a {name} event: {seen}"
            seen.append(ev)
            if ev["event"] == name:
                return seen

    async def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """Whatever arrives within `seconds`."""
        seen: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                ev = await self.next(left)
                if ev is None:
                    break
                seen.append(ev)
        return seen

    async def to_end(self, wait: float = 3.0) -> list[dict[str, Any]]:
        """Every event until the server closes the stream."""
        seen: list[dict[str, Any]] = []
        while (ev := await self.next(wait)) is not None:
            seen.append(ev)
        return seen


@pytest.fixture
def open_stream(stream_client: httpx.AsyncClient) -> Any:
    @contextlib.asynccontextmanager
    async def opener(
        sid: object, headers: dict[str, str], last_event_id: str | None = None
    ) -> AsyncIterator[Sse]:
        h = dict(headers)
        if last_event_id is not None:
            h["Last-Event-ID"] = last_event_id
        async with stream_client.stream("GET", f"/sessions/{sid}/stream", headers=h) as resp:
            assert resp.status_code == 200, await resp.aread()
            sse = Sse(resp)
            try:
                yield sse
            finally:
                sse.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sse.task

    return opener


@pytest.fixture
async def m1(kit: Any) -> int:
    """An instrument with 120 M1 bars from 2024-01-01T00:00Z."""
    iid: int = await kit.instrument()
    await kit.bars(iid, T0, 120, MIN)
    return iid


@pytest.fixture
def session(kit: Any, client: httpx.AsyncClient) -> Any:
    """A session of user 1 and a poster for its actions."""

    async def make(iid: int, **overrides: object) -> Any:
        overrides.setdefault("end_ts", None)
        sid = (await kit.session(iid, **overrides))["id"]
        h = kit.tokens.headers(1)

        async def post(action: str, json: Any = None) -> dict[str, Any]:
            resp = await client.post(f"/sessions/{sid}/{action}", json=json, headers=h)
            assert resp.status_code == 200, resp.text
            out: dict[str, Any] = resp.json()
            return out

        return sid, h, post

    return make


def bars_of(events: list[dict[str, Any]]) -> list[str]:
    return [ev["data"]["ts"] for ev in events if ev["event"] == "bar"]


async def test_stream_at_15x_sends_every_bar_in_order_never_ahead_of_the_clock(
    kit: Any, m1: int, session: Any, open_stream: Any, client: httpx.AsyncClient
) -> None:
    """At 15x the stream sends one `bar` event per revealed bar, in order, without gaps,
    each one received no earlier than the clock revealed it (no look-ahead)."""
    sid, h, post = await session(m1, speed="15x")
    await post("start")
    anchor = (await kit.sql("SELECT anchor_at FROM trading_sessions WHERE id = :id", id=sid))[0][0]
    t0 = time.monotonic()
    db_now = (await kit.sql("SELECT clock_timestamp()"))[0][0]
    offset = db_now - timedelta(seconds=(t0 + time.monotonic()) / 2)  # monotonic -> db clock
    async with open_stream(sid, h) as sse:
        state = await sse.next()
        assert state is not None and state["event"] == "state"
        assert state["data"]["session_status"] == "RUNNING"
        assert state["data"]["speed"] == "15x"
        received: list[dict[str, Any]] = []
        while len(received) < 25:
            ev = await sse.next(1.0)
            assert ev is not None and ev["event"] == "bar", ev
            received.append(ev)
    got = [ev["data"]["ts"] for ev in received]
    first = index(state["data"]["current_ts"]) + 1
    assert got == [bar(i) for i in range(first, first + 25)]  # in order, no gaps
    for ev in received:
        assert ev["id"] == ev["data"]["ts"]
        assert set(ev["data"]) == {"ts", "open", "high", "low", "close", "volume"}
        # Bar k is revealed k/15 s after the anchor: it must not arrive before.
        at_db = offset + timedelta(seconds=ev["received"])
        due = anchor + timedelta(seconds=index(ev["data"]["ts"]) / 15)
        assert at_db >= due - timedelta(milliseconds=10), (ev["data"]["ts"], at_db, due)
    now = (await client.get(f"/sessions/{sid}", headers=h)).json()
    assert got[-1] <= now["current_ts"]
    candles = (await client.get(f"/sessions/{sid}/candles", headers=h)).json()["candles"]
    by_ts = {c["ts"]: c for c in candles}
    assert all(by_ts[ev["data"]["ts"]] == ev["data"] for ev in received)  # the same bars


async def test_response_headers_and_initial_state(
    m1: int, session: Any, stream_client: httpx.AsyncClient
) -> None:
    """text/event-stream, Cache-Control: no-cache, X-Accel-Buffering: no; a `state` first."""
    sid, h, post = await session(m1, speed="1x")
    await post("start")
    await post("pause")
    async with stream_client.stream("GET", f"/sessions/{sid}/stream", headers=h) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["cache-control"] == "no-cache"
        assert resp.headers["x-accel-buffering"] == "no"
        lines = resp.aiter_lines()
        head = [await anext(lines) for _ in range(4)]
    assert head[0].startswith("retry: ")
    assert head[1] == "event: state"
    data = json.loads(head[2].removeprefix("data: "))
    assert data == {
        "session_id": sid,
        "session_status": "PAUSED",
        "current_ts": bar(0),
        "speed": "1x",
        "timeframe": "M1",
    }
    assert head[3] == ""


async def test_pause_sends_status_then_no_bars_and_resume_continues(
    m1: int, session: Any, open_stream: Any, client: httpx.AsyncClient
) -> None:
    """Pausing: every bar the pause revealed, then `status` PAUSED, then nothing; a step
    while paused streams its bars at once; resume and a speed change are announced."""
    sid, h, post = await session(m1, speed="15x")
    await post("start")
    async with open_stream(sid, h) as sse:
        await sse.until("bar")
        paused = await post("pause")
        events = await sse.until("status")
        assert events[-1]["data"]["session_status"] == "PAUSED"
        assert events[-1]["data"]["current_ts"] == paused["current_ts"]
        streamed = bars_of(events)
        assert not streamed or streamed[-1] == paused["current_ts"]
        assert bars_of(await sse.quiet(0.6)) == []  # paused: nothing more
        stepped = await post("step", json={"bars": 3})
        events = await sse.until("bar")
        events += await sse.quiet(0.4)
        p = index(paused["current_ts"])
        assert bars_of(events) == [bar(p + 1), bar(p + 2), bar(p + 3)]
        assert stepped["current_ts"] == bar(p + 3)
        resp = await client.put(f"/sessions/{sid}", json={"speed": "0.5x"}, headers=h)
        assert resp.status_code == 200, resp.text
        events = await sse.until("state")
        assert events[-1]["data"]["speed"] == "0.5x"
        await post("resume")
        events = await sse.until("status")
        assert events[-1]["data"]["session_status"] == "RUNNING"
        assert bars_of(events) == []


async def test_completion_closes_the_stream(m1: int, session: Any, open_stream: Any) -> None:
    """The clock reaching the end: the last bars, `status` COMPLETED, then the stream ends."""
    sid, h, post = await session(m1, speed="15x", end_ts="2024-01-01T00:09:30Z")
    await post("start")
    async with open_stream(sid, h) as sse:
        events = await sse.to_end()
    assert events[-1]["event"] == "status"
    assert events[-1]["data"]["session_status"] == "COMPLETED"
    assert events[-1]["data"]["current_ts"] == bar(9)
    first = index(events[0]["data"]["current_ts"]) + 1
    assert bars_of(events) == [bar(i) for i in range(first, 10)]


async def test_step_until_fill_streams_the_rest_then_completes(
    m1: int, session: Any, open_stream: Any
) -> None:
    """`step {until: "fill"}` with no fill: every remaining bar in order, then COMPLETED."""
    sid, h, post = await session(m1, speed="1x", end_ts="2024-01-01T00:40:00Z")
    await post("start")
    await post("pause")
    async with open_stream(sid, h) as sse:
        await sse.until("state")
        await post("step", json={"until": "fill"})
        events = await sse.to_end()
    assert bars_of(events) == [bar(i) for i in range(1, 41)]
    assert [ev["event"] for ev in events[-1:]] == ["status"]
    assert events[-1]["data"]["session_status"] == "COMPLETED"


async def test_a_finished_session_sends_its_state_and_closes(
    m1: int, session: Any, open_stream: Any
) -> None:
    sid, h, post = await session(m1)
    await post("start")
    await post("stop")
    async with open_stream(sid, h) as sse:
        events = await sse.to_end()
    assert [ev["event"] for ev in events] == ["state"]
    assert events[0]["data"]["session_status"] == "COMPLETED"


async def test_a_draft_streams_its_first_bar_when_started(
    m1: int, session: Any, open_stream: Any
) -> None:
    """Watching a DRAFT: nothing, then on start the first bar and `status` RUNNING."""
    sid, h, post = await session(m1, speed="0.5x", start_ts=bar(5))
    async with open_stream(sid, h) as sse:
        state = await sse.next()
        assert state is not None
        assert (state["data"]["session_status"], state["data"]["current_ts"]) == ("DRAFT", None)
        await post("start")
        events = await sse.until("status")
    assert bars_of(events) == [bar(5)]
    assert events[-1]["data"]["session_status"] == "RUNNING"


async def test_last_event_id_resumes_after_that_bar_never_beyond_current_ts(
    m1: int, session: Any, open_stream: Any
) -> None:
    """A reconnect with Last-Event-ID gets the bars after it up to current_ts, no more."""
    sid, h, post = await session(m1, speed="1x")
    await post("start")
    await post("pause")
    await post("step", json={"bars": 10})
    async with open_stream(sid, h, last_event_id=bar(3)) as sse:
        events = [await sse.next()]
        events += await sse.quiet(0.5)
    assert events[0] is not None and events[0]["event"] == "state"
    assert bars_of(events) == [bar(i) for i in range(4, 11)]
    assert [ev["id"] for ev in events if ev["event"] == "bar"] == bars_of(events)
    async with open_stream(sid, h, last_event_id=bar(50)) as sse:
        assert bars_of(await sse.quiet(0.4)) == []  # ahead of the clock: nothing
    async with open_stream(sid, h, last_event_id="not-a-bar") as sse:
        assert bars_of(await sse.quiet(0.4)) == []  # ignored: from now on


async def test_last_event_id_before_the_start_resumes_from_the_first_revealed_bar(
    m1: int, session: Any, open_stream: Any
) -> None:
    """History before start_ts is not part of the stream (the clock never revealed it)."""
    sid, h, post = await session(m1, speed="1x", start_ts=bar(100))
    await post("start")
    await post("pause")
    await post("step", json={"bars": 2})
    async with open_stream(sid, h, last_event_id=bar(0)) as sse:
        events = await sse.quiet(0.5)
    assert bars_of(events) == [bar(100), bar(101), bar(102)]


async def test_deleting_the_session_ends_the_stream(
    m1: int, session: Any, open_stream: Any, client: httpx.AsyncClient
) -> None:
    sid, h, post = await session(m1)
    await post("start")
    async with open_stream(sid, h) as sse:
        await sse.until("state")
        assert (await client.delete(f"/sessions/{sid}", headers=h)).status_code == 204
        events = await sse.to_end()
    assert events[-1] == {"event": "deleted", "data": {"session_id": sid}, "received": ANY}


async def test_stream_access_rules_are_json_errors(
    kit: Any, m1: int, session: Any, stream_client: httpx.AsyncClient, open_stream: Any
) -> None:
    """As GET /sessions/{id}: 401, 403 for another user's, 404; plain JSON, no stream."""
    sid, h, _ = await session(m1)
    cases = [
        (f"/sessions/{sid}/stream", {}, 401),
        (f"/sessions/{sid}/stream", kit.tokens.headers(2), 403),
        ("/sessions/999999/stream", h, 404),
        ("/sessions/abc/stream", h, 422),
    ]
    for url, headers, status in cases:
        resp = await stream_client.get(url, headers=headers)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("application/json")
        assert "detail" in resp.json()
    async with open_stream(sid, kit.admin) as sse:  # an admin watches anyone's session
        ev = await sse.next()
        assert ev is not None and ev["data"]["session_id"] == sid


async def _active_streams(live_trading_url: str, request: pytest.FixtureRequest) -> float:
    """The service's gauge of open streams (its /metrics when it runs as a process)."""
    if not through_gateway():
        return REGISTRY.get_sample_value("trading_session_streams_active") or 0.0
    url = request.getfixturevalue("gateway_stack").service_url("trading") + "/metrics"
    async with httpx.AsyncClient() as c:
        body = (await c.get(url)).text
    for line in body.splitlines():
        if line.startswith("trading_session_streams_active "):
            return float(line.split()[1])
    raise AssertionError("gauge missing")


async def test_client_disconnect_ends_the_server_side_stream(
    m1: int,
    session: Any,
    open_stream: Any,
    live_trading_url: str,
    request: pytest.FixtureRequest,
) -> None:
    """Closing the connection stops the server's polling promptly (nothing leaks)."""
    sid, h, post = await session(m1)
    await post("start")
    await post("pause")
    before = await _active_streams(live_trading_url, request)
    async with open_stream(sid, h) as sse:
        await sse.until("state")
        assert await _active_streams(live_trading_url, request) == before + 1
    deadline = time.monotonic() + 3
    while await _active_streams(live_trading_url, request) != before:
        assert time.monotonic() < deadline, "the stream kept running after the disconnect"
        await asyncio.sleep(0.05)


@pytest.mark.in_process_only  # looks at the in-process app's connection pool
async def test_an_open_stream_holds_no_database_connection_between_polls(
    kit: Any, m1: int, session: Any, open_stream: Any
) -> None:
    """Each poll takes a connection for one short transaction and gives it back."""
    sid, h, post = await session(m1)
    await post("start")
    await post("pause")
    pool = kit.app.state.db.engine.pool
    async with open_stream(sid, h) as sse:
        await sse.until("state")
        samples = []
        for _ in range(30):
            samples.append(pool.checkedout())
            await asyncio.sleep(0.02)
    assert 0 in samples
    async with kit.app.state.db.engine.connect() as conn:
        idle_in_tx = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction' AND pid <> pg_backend_pid()"
            )
        )
    assert idle_in_tx == 0


@pytest.mark.in_process_only  # shortens the heartbeat interval inside this process
async def test_idle_stream_sends_ping_comments(
    m1: int, session: Any, open_stream: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While nothing happens, a `: ping` comment keeps the connection alive (~15 s)."""
    assert stream_module.HEARTBEAT_SECONDS == 15.0
    monkeypatch.setattr(stream_module, "HEARTBEAT_SECONDS", 0.3)
    sid, h, post = await session(m1)
    await post("start")
    await post("pause")
    async with open_stream(sid, h) as sse:
        events = await sse.quiet(0.8)
    assert {"event": "comment", "data": ": ping"} in events


# --- fills (the positions engine's events) ---

_OPENER = ("1.10000", "1.10080", "1.09950", "1.10050")  # C = 1.10050
_FLAT = ("1.10000", "1.10010", "1.09990", "1.10000")
_SPIKE = ("1.10000", "1.10250", "1.09990", "1.10000")  # reaches 1.10200 on the bid


async def test_fills_stream_in_order_with_their_bars_and_resume_after_a_shared_bar(
    kit: Any, session: Any, open_stream: Any, client: httpx.AsyncClient
) -> None:
    """Bar 3 fills a SELL LIMIT at 1.10200 (orders first) and the BUY's TP 1.10200: two
    `fill` events right after bar 3's `bar` event, ids `<bar 3>#<fill id>`. A reconnect
    with the first fill's id gets the second fill and the bars after it, nothing twice; a
    manual close on the current bar streams as a fill too."""
    iid = await kit.instrument()
    await kit.ohlc(iid, T0, [_OPENER, _FLAT, _FLAT, _SPIKE, _FLAT, _FLAT, _FLAT])
    sid, h, post = await session(iid, speed="0.5x")
    await post("start")
    await post("pause")
    buy = await client.post(
        f"/sessions/{sid}/positions",
        json={"side": "BUY", "volume": 1, "take_profit": 1.102},
        headers=h,
    )
    order = await client.post(
        f"/sessions/{sid}/orders",
        json={"type": "LIMIT", "side": "SELL", "volume": 0.5, "price": 1.102},
        headers=h,
    )
    assert (buy.status_code, order.status_code) == (201, 201)
    async with open_stream(sid, h) as sse:
        assert (await sse.next())["event"] == "state"  # type: ignore[index]
        await post("step", {"bars": 5})
        seen = await sse.quiet(1.0)
    kinds = [(ev["event"], ev.get("id")) for ev in seen]
    fills = [ev for ev in seen if ev["event"] == "fill"]
    assert [f["data"]["kind"] for f in fills] == ["ORDER_FILLED", "CLOSE"]
    first, second = fills
    assert kinds == [
        ("bar", bar(1)),
        ("bar", bar(2)),
        ("bar", bar(3)),
        ("fill", f"{bar(3)}#{first['data']['id']}"),
        ("fill", f"{bar(3)}#{second['data']['id']}"),
        ("bar", bar(4)),
        ("bar", bar(5)),
    ]
    assert first["data"] == {
        "id": first["data"]["id"],
        "position_id": ANY,
        "order_id": order.json()["id"],
        "kind": "ORDER_FILLED",
        "reason": None,
        "price": 1.102,
        "volume": 0.5,
        "ts": bar(3),
        "bar_ts": bar(3),
    }
    assert (second["data"]["position_id"], second["data"]["reason"]) == (
        buy.json()["id"],
        "TAKE_PROFIT",
    )
    async with open_stream(sid, h, last_event_id=first["id"]) as sse:
        assert (await sse.next())["event"] == "state"  # type: ignore[index]
        again = await sse.quiet(0.8)
        assert [(ev["event"], ev.get("id")) for ev in again] == kinds[4:]
        # A market close on the current bar (5): one more fill, on a bar already sent.
        sold = first["data"]["position_id"]
        closed = await client.post(f"/positions/{sold}/close", headers=h)
        assert closed.status_code == 200, closed.text
        late = await sse.quiet(0.8)
    assert [(ev["event"], ev["data"]["kind"], ev["data"]["bar_ts"]) for ev in late] == [
        ("fill", "CLOSE", bar(5))
    ]


# --- the LISTEN/NOTIFY path, the bar cache and the query budget (sessions/hub.py) ---


async def _metric(name: str, live_trading_url: str, request: pytest.FixtureRequest) -> float:
    """A sample of the service's metrics (its /metrics when it runs as a process)."""
    if not through_gateway():
        return REGISTRY.get_sample_value(name) or 0.0
    url = request.getfixturevalue("gateway_stack").service_url("trading") + "/metrics"
    async with httpx.AsyncClient() as c:
        body = (await c.get(url)).text
    for line in body.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


@pytest.fixture
def notify_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No timer wakes an idle stream within a test: only a notification can."""
    monkeypatch.setattr(stream_module, "POLL_SECONDS", 30.0)
    monkeypatch.setattr(stream_module, "DISCONNECT_CHECK_SECONDS", 30.0)


@pytest.mark.in_process_only  # the timers are patched inside this process
async def test_changes_from_another_connection_reach_an_open_stream_through_notify(
    kit: Any, m1: int, session: Any, open_stream: Any, notify_only: None
) -> None:
    """A step written by hand in SQL (any writer, any replica), a seek and a resume through
    the API, and a DELETE in SQL: each reaches a paused, idle stream at once, since the
    session row's trigger notifies the process's LISTEN connection."""
    assert kit.app.state.stream_hub.live
    sid, h, post = await session(m1, speed="1x")
    await post("start")
    await post("pause")
    async with open_stream(sid, h) as sse:
        await sse.until("state")
        assert await sse.quiet(0.3) == []  # idle
        t0 = time.monotonic()
        await kit.sql(
            "UPDATE trading_sessions SET current_ts = :ts WHERE id = :id", ts=T0 + 2 * MIN, id=sid
        )
        events = await sse.quiet(0.3)
        assert bars_of(events) == [bar(1), bar(2)]
        assert events[-1]["received"] - t0 < 0.25
        t0 = time.monotonic()
        await post("seek", {"ts": bar(4)})
        events = await sse.quiet(0.3)
        assert bars_of(events) == [bar(3), bar(4)]
        assert events[-1]["received"] - t0 < 0.25
        t0 = time.monotonic()
        await post("resume")
        events = await sse.until("status", wait=0.5)
        assert events[-1]["data"]["session_status"] == "RUNNING"
        await post("pause")
        events = await sse.until("status", wait=0.5)
        assert events[-1]["data"]["session_status"] == "PAUSED"
        t0 = time.monotonic()
        await kit.sql("DELETE FROM trading_sessions WHERE id = :id", id=sid)
        events = await sse.to_end(wait=0.5)
        assert events[-1]["event"] == "deleted"
        assert events[-1]["received"] - t0 < 0.25


async def test_an_import_invalidates_the_bar_cache(
    kit: Any, m1: int, session: Any, open_stream: Any, client: httpx.AsyncClient
) -> None:
    """Bars imported after the cache read the end of the data are streamed when the clock
    reaches them, and a corrected bar is streamed with its new values: candle writes
    notify, and the process's cache drops the instrument's bars."""
    sid, h, post = await session(m1, speed="1x", start_ts=bar(110))
    await post("start")
    await post("pause")
    async with open_stream(sid, h) as sse:
        await sse.until("state")
        await post("step", {"bars": 8})  # to bar 118: the cache read up to the end, 119
        assert bars_of(await sse.quiet(0.4)) == [bar(i) for i in range(111, 119)]
    csv = "timestamp,open,high,low,close,volume\n" + "".join(
        f"{bar(i)},1.10000,1.10100,1.09900,1.10050,5\n" for i in range(120, 130)
    )
    resp = await client.post(
        f"/instruments/{m1}/candles",
        content=csv.encode(),
        headers={**kit.admin, "Content-Type": "text/csv"},
    )
    assert resp.status_code in (200, 201), resp.text
    await kit.sql(
        "UPDATE candles SET close = 1.23456 WHERE instrument_id = :iid AND timeframe = 'M1' "
        "AND ts = :ts",
        iid=m1,
        ts=T0 + 115 * MIN,
    )
    async with open_stream(sid, h, last_event_id=bar(114)) as sse:
        await sse.until("state")
        await post("step", {"bars": 6})
        events = await sse.quiet(0.5)
    got = [ev for ev in events if ev["event"] == "bar"]
    assert [ev["data"]["ts"] for ev in got] == [bar(i) for i in range(115, 125)]
    assert got[0]["data"]["close"] == 1.23456
    assert got[-1]["data"]["close"] == 1.1005


async def test_streams_at_15x_cost_under_one_query_per_second(
    kit: Any,
    m1: int,
    session: Any,
    open_stream: Any,
    live_trading_url: str,
    request: pytest.FixtureRequest,
) -> None:
    """Four streams at 15x for 3 s: every bar, and on average under one database statement
    per stream per second once open (bars come from the process's cache, the clock from the
    anchor); opening one costs a handful."""
    name = "trading_session_stream_queries_total"
    before_open = await _metric(name, live_trading_url, request)
    sids = []
    for _ in range(4):
        sid, h, post = await session(m1, speed="15x")
        await post("start")
        sids.append(sid)
    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(open_stream(sid, h)) for sid in sids]
        for sse in streams:
            await sse.until("bar")
        opened = await _metric(name, live_trading_url, request)
        t0 = time.monotonic()
        await asyncio.sleep(3.0)
        spent = await _metric(name, live_trading_url, request) - opened
        seconds = time.monotonic() - t0
        for sse in streams:
            got = bars_of(await sse.quiet(0.05))
            assert len(got) >= 40  # ~15 a second
            assert got == sorted(set(got))
    assert (opened - before_open) / len(sids) <= 12
    assert spent / len(sids) / seconds <= 1.0, spent


@pytest.mark.in_process_only  # kills the in-process hub's LISTEN connection
async def test_the_hub_reconnects_and_streams_go_on(
    kit: Any, m1: int, session: Any, open_stream: Any, notify_only: None
) -> None:
    """The LISTEN connection killed: the hub connects again (with backoff), wakes every
    stream to read what it may have missed, and notifications flow again."""
    hub = kit.app.state.stream_hub
    sid, h, post = await session(m1, speed="1x")
    await post("start")
    await post("pause")
    async with open_stream(sid, h) as sse:
        await sse.until("state")
        pid = hub.server_pid
        await kit.sql("SELECT pg_terminate_backend(:pid)", pid=pid)
        deadline = time.monotonic() + 5
        while not (hub.live and hub.server_pid != pid):
            assert time.monotonic() < deadline, "the hub did not reconnect"
            await asyncio.sleep(0.02)
        await post("step", {"bars": 2})
        events = await sse.quiet(0.4)
    assert bars_of(events) == [bar(1), bar(2)]
