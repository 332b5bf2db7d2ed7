"""SPEC 3, replay clock: current_ts, playback at `speed` bars per second without a ticker,
pause, speed changes, step, seek and automatic COMPLETED, against the real database."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack.testing import TokenFactory
from trading_service.config import Settings
from trading_service.main import create_app

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
MIN = timedelta(minutes=1)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def bar(i: int) -> str:
    """Open time of the i-th M1 bar of the standard data set."""
    return iso(T0 + i * MIN)


@pytest.fixture
async def m1(kit: Any) -> int:
    """An instrument with 120 M1 bars from 2024-01-01T00:00Z (00:00 .. 01:59)."""
    iid: int = await kit.instrument()
    await kit.bars(iid, T0, 120, MIN)
    return iid


class Session:
    def __init__(self, kit: Any, client: httpx.AsyncClient, sid: int) -> None:
        self.kit, self.client, self.id = kit, client, sid
        self.h = kit.tokens.headers(1)

    async def post(self, action: str, json: Any = None, expect: int = 200) -> dict[str, Any]:
        resp = await self.client.post(f"/sessions/{self.id}/{action}", json=json, headers=self.h)
        assert resp.status_code == expect, resp.text
        out: dict[str, Any] = resp.json()
        return out

    async def put(self, json: Any, expect: int = 200) -> dict[str, Any]:
        resp = await self.client.put(f"/sessions/{self.id}", json=json, headers=self.h)
        assert resp.status_code == expect, resp.text
        out: dict[str, Any] = resp.json()
        return out

    async def get(self) -> dict[str, Any]:
        resp = await self.client.get(f"/sessions/{self.id}", headers=self.h)
        assert resp.status_code == 200, resp.text
        out: dict[str, Any] = resp.json()
        return out

    async def row(self) -> Any:
        rows = await self.kit.sql(
            "SELECT session_status, current_ts, anchor_at FROM trading_sessions WHERE id = :id",
            id=self.id,
        )
        return rows[0]


@pytest.fixture
def new_session(kit: Any, client: httpx.AsyncClient) -> Any:
    async def make(iid: int, **overrides: object) -> Session:
        overrides.setdefault("speed", "0.5x")
        overrides.setdefault("end_ts", None)
        body = await kit.session(iid, **overrides)
        return Session(kit, client, int(body["id"]))

    return make


# --- start ---


async def test_start_sets_current_ts_to_first_bar_at_or_after_start_ts(
    m1: int, new_session: Any
) -> None:
    """SPEC: `start` sets current_ts to the first bar at or after start_ts."""
    s = await new_session(m1, start_ts="2024-01-01T00:10:30Z")
    started = await s.post("start")
    assert started["session_status"] == "RUNNING"
    assert started["current_ts"] == bar(11)
    exact = await new_session(m1, start_ts=bar(5))
    assert (await exact.post("start"))["current_ts"] == bar(5)


async def test_start_at_a_higher_timeframe_uses_its_bars(m1: int, new_session: Any) -> None:
    """current_ts is the open time of a bar at the session's timeframe."""
    s = await new_session(m1, timeframe="H1", start_ts="2024-01-01T00:30:00Z")
    assert (await s.post("start"))["current_ts"] == "2024-01-01T01:00:00Z"


async def test_start_before_the_data_begins_waits_for_the_first_bar(
    kit: Any, new_session: Any
) -> None:
    iid = await kit.instrument()
    await kit.bars(iid, T0 + timedelta(hours=5), 10, MIN)
    s = await new_session(iid, start_ts=iso(T0))
    assert (await s.post("start"))["current_ts"] == "2024-01-01T05:00:00Z"


async def test_a_range_of_one_bar_completes_on_start(m1: int, new_session: Any) -> None:
    """Reaching the last bar at or before end_ts completes the session, even at start."""
    s = await new_session(m1, start_ts=bar(3), end_ts="2024-01-01T00:03:59Z")
    started = await s.post("start")
    assert (started["session_status"], started["current_ts"]) == ("COMPLETED", bar(3))


# --- playback ---


async def test_running_clock_reveals_speed_bars_per_second_in_real_time(
    m1: int, new_session: Any
) -> None:
    """SPEC: while RUNNING, bars are revealed at `speed` bars per second (15x, real sleep)."""
    s = await new_session(m1, speed="15x")
    t_before = time.monotonic()
    await s.post("start")
    await asyncio.sleep(0.6)
    now = await s.get()
    elapsed = time.monotonic() - t_before
    revealed = (datetime.fromisoformat(now["current_ts"]) - T0) // MIN
    assert now["session_status"] == "RUNNING"
    assert 4 <= revealed <= int(elapsed * 15) + 1, (revealed, elapsed)


async def test_clock_is_computed_from_elapsed_time_without_a_ticker(
    kit: Any, m1: int, new_session: Any
) -> None:
    """Bars revealed = floor(elapsed x speed) from the anchor; reads write nothing."""
    s = await new_session(m1)  # 0.5x: one bar per two seconds
    await s.post("start")
    await kit.rewind_anchor(s.id, 20.5)
    assert (await s.get())["current_ts"] == bar(10)
    row = await s.row()
    assert row.current_ts == T0  # computed on read, nothing persisted
    await kit.rewind_anchor(s.id, 4)
    assert (await s.get())["current_ts"] == bar(12)


async def test_replicas_agree_on_current_ts(
    kit: Any, m1: int, new_session: Any, trading_db_url: str, tokens: TokenFactory
) -> None:
    """SPEC: any number of replicas agree (the clock comes from the row and the DB clock)."""
    other = create_app(
        Settings(
            database_url=trading_db_url,
            jwt_issuer=kit.app.state.settings.jwt_issuer,
            jwt_audience=kit.app.state.settings.jwt_audience,
            jwks_url="http://127.0.0.1:9/unreachable",
            environment="test",
        )
    )
    other.state.verifier.add_jwks(tokens.jwks())
    s = await new_session(m1)
    await s.post("start")
    await kit.rewind_anchor(s.id, 10.9)  # 0.5x: bar 5 until 12 s have passed
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url="http://replica") as c2:
            a, b = await asyncio.gather(
                s.client.get(f"/sessions/{s.id}", headers=s.h),
                c2.get(f"/sessions/{s.id}", headers=s.h),
            )
    assert a.status_code == b.status_code == 200
    assert a.json()["current_ts"] == b.json()["current_ts"] == bar(5)


async def test_pause_freezes_the_clock_and_resume_continues_from_there(
    kit: Any, m1: int, new_session: Any
) -> None:
    """SPEC: PAUSED freezes it."""
    s = await new_session(m1)
    await s.post("start")
    await kit.rewind_anchor(s.id, 20.5)
    paused = await s.post("pause")
    assert (paused["session_status"], paused["current_ts"]) == ("PAUSED", bar(10))
    row = await s.row()
    assert row.current_ts == T0 + 10 * MIN and row.anchor_at is None  # materialized
    await asyncio.sleep(0.3)
    await kit.rewind_anchor(s.id, 100)  # no anchor while PAUSED: nothing moves
    assert (await s.get())["current_ts"] == bar(10)
    resumed = await s.post("resume")
    assert (resumed["session_status"], resumed["current_ts"]) == ("RUNNING", bar(10))
    await kit.rewind_anchor(s.id, 4.5)
    assert (await s.get())["current_ts"] == bar(12)


async def test_speed_change_keeps_what_was_revealed(kit: Any, m1: int, new_session: Any) -> None:
    """SPEC: a speed change keeps what was revealed (and counts on at the new speed)."""
    s = await new_session(m1)
    await s.post("start")
    await kit.rewind_anchor(s.id, 20.5)  # 10 bars at 0.5x
    changed = await s.put({"speed": "10x"})
    assert (changed["speed"], changed["current_ts"]) == ("10x", bar(10))
    # Had the old anchor been kept, 10x over 20.5 s would jump to bar 205 (the end).
    now = await s.get()
    assert now["session_status"] == "RUNNING"
    assert bar(10) <= now["current_ts"] <= bar(14)
    await kit.rewind_anchor(s.id, 3.05)  # 30 more bars at 10x
    later = await s.get()
    assert bar(40) <= later["current_ts"] <= bar(44)
    slower = await s.put({"speed": "0.5x"})
    assert slower["current_ts"] >= later["current_ts"]  # nothing revealed is taken back


async def test_speed_change_while_paused_then_resume(kit: Any, m1: int, new_session: Any) -> None:
    s = await new_session(m1)
    await s.post("start")
    await s.post("pause")
    await s.put({"speed": "2x"})
    await s.post("resume")
    await kit.rewind_anchor(s.id, 5.2)
    assert (await s.get())["current_ts"] == bar(10)


# --- step and seek ---


async def test_step_reveals_bars_at_once(kit: Any, m1: int, new_session: Any) -> None:
    """SPEC: POST step {bars: n} (default 1) reveals bars at once, in RUNNING or PAUSED."""
    s = await new_session(m1)
    await s.post("start")
    await s.post("pause")
    assert (await s.post("step"))["current_ts"] == bar(1)  # no body: one bar
    assert (await s.post("step", json={}))["current_ts"] == bar(2)
    assert (await s.post("step", json={"bars": 5}))["current_ts"] == bar(7)
    stepped = await s.post("step", json={"bars": 1})
    assert (stepped["session_status"], stepped["current_ts"]) == ("PAUSED", bar(8))
    await s.post("resume")
    await kit.rewind_anchor(s.id, 4.5)  # running: 2 bars elapsed, then 3 stepped
    running = await s.post("step", json={"bars": 3})
    assert (running["session_status"], running["current_ts"]) == ("RUNNING", bar(13))


async def test_step_counts_bars_not_time_across_gaps(kit: Any, new_session: Any) -> None:
    """Bars that do not exist (a weekend, a gap) are not counted."""
    iid = await kit.instrument()
    await kit.bars(iid, T0, 10, MIN)
    await kit.bars(iid, T0 + timedelta(hours=2), 10, MIN)
    s = await new_session(iid)
    await s.post("start")
    await s.post("pause")
    assert (await s.post("step", json={"bars": 12}))["current_ts"] == "2024-01-01T02:02:00Z"


@pytest.mark.parametrize("bars", [0, -1, 1.5, "2", True, None, 10**7])
async def test_step_invalid_bars_is_422(m1: int, new_session: Any, bars: object) -> None:
    s = await new_session(m1)
    await s.post("start")
    await s.post("step", json={"bars": bars}, expect=422)


async def test_seek_forward_to_last_bar_at_or_before_ts(m1: int, new_session: Any) -> None:
    """SPEC: seek {ts} (forward only) reveals bars up to the last one at or before ts."""
    s = await new_session(m1)
    await s.post("start")
    await s.post("pause")
    sought = await s.post("seek", json={"ts": "2024-01-01T00:10:30Z"})
    assert (sought["session_status"], sought["current_ts"]) == ("PAUSED", bar(10))
    same = await s.post("seek", json={"ts": "2024-01-01T00:10:59Z"})
    assert same["current_ts"] == bar(10)  # not backward: stays
    await s.post("resume")
    running = await s.post("seek", json={"ts": bar(30)})
    assert (running["session_status"], running["current_ts"]) == ("RUNNING", bar(30))


async def test_backward_seek_is_422(m1: int, new_session: Any) -> None:
    """SPEC 8: a backward seek is 422."""
    s = await new_session(m1)
    await s.post("start")
    await s.post("seek", json={"ts": bar(20)})
    resp = await s.post("seek", json={"ts": bar(19)}, expect=422)
    assert resp["detail"][0]["loc"] == ["body", "ts"]
    assert (await s.get())["current_ts"] >= bar(20)


@pytest.mark.parametrize("body", [{}, {"ts": "soon"}, {"ts": 5}, {"bars": 1}, None])
async def test_seek_invalid_body_is_422(m1: int, new_session: Any, body: object) -> None:
    s = await new_session(m1)
    await s.post("start")
    await s.post("seek", json=body, expect=422)


@pytest.mark.parametrize("status", ["DRAFT", "COMPLETED", "ARCHIVED"])
async def test_step_and_seek_in_wrong_state_are_400(m1: int, new_session: Any, status: str) -> None:
    """SPEC 8: wrong-state step/seek is 400 (only RUNNING or PAUSED)."""
    s = await new_session(m1)
    for action in {
        "DRAFT": [],
        "COMPLETED": ["start", "stop"],
        "ARCHIVED": ["start", "stop", "archive"],
    }[status]:
        await s.post(action)
    before = await s.get()
    await s.post("step", expect=400)
    await s.post("seek", json={"ts": bar(50)}, expect=400)
    assert await s.get() == before


# --- automatic completion ---


async def test_step_to_the_end_completes_at_the_last_bar_before_end_ts(
    m1: int, new_session: Any
) -> None:
    """SPEC: reaching the last bar at or before end_ts -> COMPLETED."""
    s = await new_session(m1, end_ts="2024-01-01T00:59:59Z")
    await s.post("start")
    almost = await s.post("step", json={"bars": 58})
    assert (almost["session_status"], almost["current_ts"]) == ("RUNNING", bar(58))
    done = await s.post("step", json={"bars": 1})  # bar 59 is the last one <= end_ts
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", bar(59))
    row = await s.row()
    assert (row.session_status, row.anchor_at) == ("COMPLETED", None)


async def test_step_beyond_the_end_stops_at_the_last_bar(m1: int, new_session: Any) -> None:
    s = await new_session(m1, end_ts="2024-01-01T01:00:00Z")
    await s.post("start")
    done = await s.post("step", json={"bars": 1000})
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", bar(60))


async def test_seek_past_the_end_completes(m1: int, new_session: Any) -> None:
    s = await new_session(m1, end_ts="2024-01-01T01:00:00Z")
    await s.post("start")
    done = await s.post("seek", json={"ts": "2024-06-01T00:00:00Z"})
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", bar(60))


async def test_running_clock_completes_by_itself_at_end_ts(
    kit: Any, m1: int, new_session: Any
) -> None:
    """Automatic COMPLETED at the end of the range, persisted at the first read after it."""
    s = await new_session(m1, end_ts="2024-01-01T00:30:00Z")
    await s.post("start")
    await kit.rewind_anchor(s.id, 3600)
    now = await s.get()
    assert (now["session_status"], now["current_ts"]) == ("COMPLETED", bar(30))
    row = await s.row()
    assert (row.session_status, row.current_ts, row.anchor_at) == (
        "COMPLETED",
        T0 + 30 * MIN,
        None,
    )
    await s.post("pause", expect=400)
    assert (await s.post("archive"))["session_status"] == "ARCHIVED"


async def test_running_clock_completes_at_the_end_of_the_data(
    kit: Any, m1: int, new_session: Any
) -> None:
    """Automatic COMPLETED at the end of the data when end_ts is later (or absent)."""
    for end_ts in (None, "2024-12-31T00:00:00Z"):
        s = await new_session(m1, end_ts=end_ts)
        await s.post("start")
        await kit.rewind_anchor(s.id, 3600)
        listed = await s.client.get("/sessions", headers=s.h)
        mine = next(x for x in listed.json()["sessions"] if x["id"] == s.id)
        assert (mine["session_status"], mine["current_ts"]) == ("COMPLETED", bar(119))
        assert (await s.row()).session_status == "COMPLETED"


async def test_a_pause_after_the_end_is_400_and_sees_completed(
    kit: Any, m1: int, new_session: Any
) -> None:
    """A write first materializes the clock: the session is already COMPLETED."""
    s = await new_session(m1)
    await s.post("start")
    await kit.rewind_anchor(s.id, 3600)
    await s.post("pause", expect=400)
    await s.post("step", expect=400)
    assert (await s.get())["session_status"] == "COMPLETED"


async def test_moving_end_ts(m1: int, new_session: Any) -> None:
    """end_ts may move while started, never before current_ts (422); onto it completes."""
    s = await new_session(m1)
    await s.post("start")
    await s.post("pause")
    await s.post("seek", json={"ts": bar(20)})
    resp = await s.put({"end_ts": bar(19)}, expect=422)
    assert "current_ts" in str(resp["detail"])
    extended = await s.put({"end_ts": "2024-01-01T00:40:00Z"})
    assert extended["session_status"] == "PAUSED"
    done = await s.put({"end_ts": "2024-01-01T00:20:30Z"})
    assert (done["session_status"], done["current_ts"]) == ("COMPLETED", bar(20))
