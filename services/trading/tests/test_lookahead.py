"""SPEC 3, no look-ahead: GET /sessions/{id}/candles never shows a bar after current_ts,
whatever moved the clock (start, step, seek, pause, resume, speed change, playback), at
several timeframes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # Monday
START = T0 + timedelta(days=1, hours=12)  # Tuesday noon


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


async def m1_days(kit: Any, days: int) -> int:
    """An instrument with `days` days of M1 bars from T0, and M5..W1 aggregated from them."""
    iid: int = await kit.instrument()
    await kit.bars(iid, T0, days * 1440, timedelta(minutes=1))
    return iid


async def h1_days(kit: Any, days: int) -> int:
    """An instrument stored at H1 (its D1 and W1 aggregated from H1)."""
    iid: int = await kit.instrument(base_timeframe="H1")
    await kit.bars(iid, T0, days * 24, timedelta(hours=1))
    return iid


@pytest.fixture
async def week(kit: Any) -> int:
    return await m1_days(kit, 3)


class Probe:
    """Reads a session's candles as its (non-admin) owner and checks them against the clock."""

    def __init__(self, kit: Any, client: httpx.AsyncClient, sid: int, tf: str) -> None:
        self.kit, self.client, self.id, self.tf = kit, client, sid, tf
        self.h = kit.tokens.headers(1)

    async def act(self, method: str, path: str, json: Any = None) -> dict[str, Any]:
        resp = await self.client.request(
            method, f"/sessions/{self.id}{path}", json=json, headers=self.h
        )
        assert resp.status_code == 200, resp.text
        out: dict[str, Any] = resp.json()
        return out

    async def stored_until(self, until: datetime, *, strict: bool = False) -> list[datetime]:
        rows = await self.kit.sql(
            "SELECT c.ts FROM candles c JOIN trading_sessions s ON s.instrument_id = "
            "c.instrument_id WHERE s.id = :sid AND c.timeframe = :tf AND c.ts <= :until "
            "ORDER BY c.ts",
            sid=self.id,
            tf=self.tf,
            until=until,
        )
        return [r[0] for r in rows if not (strict and r[0] == until)]

    async def check(self, *, frozen: bool) -> datetime | None:
        """Candles <= current_ts; the last revealed bar is shown; nothing later, ever."""
        resp = await self.client.get(
            f"/sessions/{self.id}/candles", params={"limit": 5000}, headers=self.h
        )
        assert resp.status_code == 200, resp.text
        page = resp.json()
        session = await self.act("GET", "")
        assert page["timeframe"] == self.tf
        shown = [parse(c["ts"]) for c in page["candles"]]
        assert shown == sorted(shown), "oldest first"
        if session["current_ts"] is None:  # DRAFT: history strictly before start_ts
            assert page["current_ts"] is None
            expected = await self.stored_until(parse(session["start_ts"]), strict=True)
            assert shown == expected[-5000:]
            return None
        current = parse(page["current_ts"])
        assert current <= parse(session["current_ts"])  # the clock only moves forward
        if frozen:
            assert current == parse(session["current_ts"])
        assert all(ts <= current for ts in shown), "a bar after current_ts was shown"
        expected = await self.stored_until(current)
        assert shown == expected[-5000:]  # everything revealed, up to the limit
        assert shown[-1] == current
        return current

    async def check_paging(self) -> None:
        """Paging backwards with `before`, even from the future, stays at or before the clock."""
        current = await self.check(frozen=True)
        assert current is not None
        pages: list[datetime] = []
        before = "2099-01-01T00:00:00Z"  # a `before` in the future reveals nothing more
        while True:
            resp = await self.client.get(
                f"/sessions/{self.id}/candles",
                params={"limit": 700, "before": before},
                headers=self.h,
            )
            assert resp.status_code == 200
            got = [parse(c["ts"]) for c in resp.json()["candles"]]
            if not got:
                break
            assert all(ts <= current for ts in got)
            pages = got + pages
            before = resp.json()["candles"][0]["ts"]
        assert pages == await self.stored_until(current)


@pytest.mark.parametrize(("tf", "step"), [("M1", 7), ("M5", 5), ("H1", 3), ("D1", 2)])
async def test_no_bar_after_current_ts_through_every_clock_move(
    kit: Any, client: httpx.AsyncClient, tf: str, step: int
) -> None:
    """Look-ahead guarantee after start, playback, speed change, pause, step, seek, resume,
    at M1, M5, H1 and D1 (D1 over an H1-based instrument)."""
    iid = await (h1_days(kit, 30) if tf == "D1" else m1_days(kit, 3))
    created = await kit.session(
        iid, timeframe=tf, speed="0.5x", start_ts=START.isoformat(), end_ts=None
    )
    p = Probe(kit, client, int(created["id"]), tf)
    await p.check(frozen=True)  # DRAFT

    started = await p.act("POST", "/start")
    assert parse(started["current_ts"]) >= START
    first = await p.check(frozen=False)
    assert first is not None

    await kit.rewind_anchor(p.id, 2.5)  # playback: one bar at 0.5x
    played = await p.check(frozen=False)
    assert played is not None and played > first

    await p.act("PUT", "", {"speed": "2x"})  # materializes, re-anchors
    await p.check(frozen=False)
    await p.act("PUT", "", {"speed": "0.5x"})
    await p.check(frozen=False)

    paused = await p.act("POST", "/pause")
    assert await p.check(frozen=True) == parse(paused["current_ts"])

    stepped = await p.act("POST", "/step", {"bars": step})
    assert await p.check(frozen=True) == parse(stepped["current_ts"])

    target = parse(stepped["current_ts"]) + (
        timedelta(days=3) if tf == "D1" else timedelta(hours=5)
    )
    sought = await p.act("POST", "/seek", {"ts": target.isoformat()})
    assert parse(sought["current_ts"]) <= target
    assert await p.check(frozen=True) == parse(sought["current_ts"])
    await p.check_paging()

    await p.act("POST", "/resume")
    await p.check(frozen=False)
    await kit.rewind_anchor(p.id, 2.5)
    await p.check(frozen=False)

    stopped = await p.act("POST", "/stop")
    assert stopped["session_status"] == "COMPLETED"
    assert await p.check(frozen=True) == parse(stopped["current_ts"])
    last = await p.stored_until(T0 + timedelta(days=60))
    assert parse(stopped["current_ts"]) < last[-1], "the test never reached the data's end"


async def test_completed_by_the_clock_shows_up_to_the_last_bar_only(
    kit: Any, client: httpx.AsyncClient, week: int
) -> None:
    """At the end of the range the last bar <= end_ts is shown, and nothing after end_ts."""
    created = await kit.session(
        week,
        timeframe="H1",
        speed="0.5x",
        start_ts=START.isoformat(),
        end_ts=(START + timedelta(hours=5, minutes=30)).isoformat(),
    )
    p = Probe(kit, client, int(created["id"]), "H1")
    await p.act("POST", "/start")
    await kit.rewind_anchor(p.id, 3600)
    current = await p.check(frozen=True)
    assert current == START + timedelta(hours=5)
    assert (await p.act("GET", ""))["session_status"] == "COMPLETED"


async def test_running_reads_never_run_ahead_at_15x(
    kit: Any, client: httpx.AsyncClient, week: int
) -> None:
    """While the clock moves between two reads, the candles never pass the session's clock."""
    created = await kit.session(week, speed="15x", start_ts=START.isoformat(), end_ts=None)
    p = Probe(kit, client, int(created["id"]), "M1")
    await p.act("POST", "/start")
    seen: list[datetime] = []
    for _ in range(5):
        current = await p.check(frozen=False)
        assert current is not None
        seen.append(current)
    assert seen == sorted(seen)


async def test_candles_of_another_users_session_are_403(
    kit: Any, client: httpx.AsyncClient, week: int
) -> None:
    """SPEC 8: candles of another user's session are 403, like the session."""
    created = await kit.session(week, start_ts=START.isoformat())
    sid = created["id"]
    assert (await client.get(f"/sessions/{sid}/candles")).status_code == 401
    other = await client.get(f"/sessions/{sid}/candles", headers=kit.tokens.headers(2))
    assert other.status_code == 403
    missing = await client.get(f"/sessions/{sid + 1}/candles", headers=kit.tokens.headers(1))
    assert missing.status_code == 404
    admin = await client.get(f"/sessions/{sid}/candles", headers=kit.tokens.headers(9, ["admin"]))
    assert admin.status_code == 200
    assert all(parse(c["ts"]) < START for c in admin.json()["candles"])


async def test_candles_default_limit_and_bounds(
    kit: Any, client: httpx.AsyncClient, week: int
) -> None:
    """limit defaults to 500, at most 5000; a bad `before` or limit is 422."""
    created = await kit.session(week, start_ts=START.isoformat())
    sid, h = created["id"], kit.tokens.headers(1)
    resp = await client.get(f"/sessions/{sid}/candles", headers=h)
    assert len(resp.json()["candles"]) == 500
    assert resp.json()["candles"][-1]["ts"] == "2024-01-02T11:59:00Z"
    for params in ({"limit": 0}, {"limit": 5001}, {"before": "tomorrow"}, {"limit": "x"}):
        bad = await client.get(f"/sessions/{sid}/candles", params=params, headers=h)
        assert bad.status_code == 422, params


# --- the event stream: bars from the process's cache, changes through NOTIFY ---


class StreamWatch:
    """Reads `GET /sessions/{id}/stream` in a task; each event is stamped with the database
    clock at its arrival (the monotonic clock, offset once against clock_timestamp())."""

    def __init__(self, resp: httpx.Response, db_offset: timedelta) -> None:
        self.resp, self.offset = resp, db_offset
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        fields: dict[str, str] = {}
        async for line in self.resp.aiter_lines():
            if line == "" and fields:
                at = self.offset + timedelta(seconds=time.monotonic())
                self.events.append({**fields, "data": json.loads(fields["data"]), "at": at})
                fields = {}
            elif line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")

    def bars(self) -> list[dict[str, Any]]:
        return [ev for ev in self.events if ev["event"] == "bar"]

    async def until(self, name: str, count: int = 1, wait: float = 3.0) -> None:
        deadline = time.monotonic() + wait
        while sum(ev["event"] == name for ev in self.events) < count:
            assert time.monotonic() < deadline, f"no {name} event: {self.events[-3:]}"
            await asyncio.sleep(0.01)


async def _db_offset(kit: Any) -> timedelta:
    t0 = time.monotonic()
    now = (await kit.sql("SELECT clock_timestamp()"))[0][0]
    return now - timedelta(seconds=(t0 + time.monotonic()) / 2)


@pytest.mark.in_process_only  # shrinks the in-process bar cache's chunks
async def test_the_stream_never_reveals_a_bar_before_the_clock_does(
    kit: Any,
    client: httpx.AsyncClient,
    stream_client: httpx.AsyncClient,
    week: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 15x, bars served from the bar cache (chunks of 7, so many chunk reads) arrive no
    earlier than the database clock reveals them (due = anchor + k / speed); pause, step,
    seek, a speed change and resume reach the stream through NOTIFY, and after each the
    stream has sent nothing after the clock's current_ts."""
    monkeypatch.setattr(kit.app.state.stream_hub.bars, "_chunk", 7)
    created = await kit.session(week, speed="15x", start_ts=START.isoformat(), end_ts=None)
    p = Probe(kit, client, int(created["id"]), "M1")
    await p.act("POST", "/start")
    offset = await _db_offset(kit)

    async def anchor() -> tuple[datetime, datetime]:
        rows = await kit.sql(
            "SELECT anchor_at, current_ts FROM trading_sessions WHERE id = :id", id=p.id
        )
        return rows[0][0], rows[0][1]

    def check_due(bars: list[dict[str, Any]], at: datetime, ts: datetime, rate: float) -> None:
        for ev in bars:
            k = (parse(ev["data"]["ts"]) - ts) / timedelta(minutes=1)
            due = at + timedelta(seconds=k / rate)
            assert ev["at"] >= due - timedelta(milliseconds=5), (ev["data"]["ts"], ev["at"], due)

    async def frozen_at(state: dict[str, Any], watch: StreamWatch) -> None:
        """After the status/step: every bar sent is at or before the frozen clock."""
        assert all(parse(ev["data"]["ts"]) <= parse(state["current_ts"]) for ev in watch.bars())

    async with stream_client.stream("GET", f"/sessions/{p.id}/stream", headers=p.h) as resp:
        watch = StreamWatch(resp, offset)
        try:
            await watch.until("state")
            anchor_at, anchor_ts = await anchor()
            await asyncio.sleep(2.0)  # ~30 bars, 4 chunks
            check_due(watch.bars(), anchor_at, anchor_ts, 15)
            assert len(watch.bars()) >= 20

            paused = await p.act("POST", "/pause")
            await watch.until("status")
            await frozen_at(paused, watch)
            assert watch.bars()[-1]["data"]["ts"] == paused["current_ts"]
            stepped = await p.act("POST", "/step", {"bars": 9})
            await asyncio.sleep(0.3)
            await frozen_at(stepped, watch)
            target = parse(stepped["current_ts"]) + timedelta(minutes=40)
            sought = await p.act("POST", "/seek", {"ts": target.isoformat()})
            await asyncio.sleep(0.3)
            await frozen_at(sought, watch)
            assert watch.bars()[-1]["data"]["ts"] == sought["current_ts"]

            await p.act("PUT", "", {"speed": "10x"})
            await watch.until("state", 2)
            resumed_from = len(watch.bars())
            await p.act("POST", "/resume")
            await watch.until("status", 2)
            anchor_at, anchor_ts = await anchor()
            await asyncio.sleep(1.5)
            check_due(watch.bars()[resumed_from:], anchor_at, anchor_ts, 10)
            assert len(watch.bars()) - resumed_from >= 10
        finally:
            watch.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch.task
    now = await p.act("GET", "")
    shown = [parse(ev["data"]["ts"]) for ev in watch.bars()]
    assert all(ts <= parse(now["current_ts"]) for ts in shown)
    stored = await p.stored_until(shown[-1])
    assert shown == [ts for ts in stored if ts >= shown[0]]  # every bar once, in order
    assert shown[0] > START


async def test_cached_windows_never_run_ahead_nor_go_stale(
    kit: Any, client: httpx.AsyncClient, week: int
) -> None:
    """Issue 9's per-process candle cache: repeated reads (hits) show exactly the bars up to
    the clock; a step, a playing clock and a rewritten bar each give a fresh window."""
    created = await kit.session(week, speed="1x", start_ts=START.isoformat(), end_ts=None)
    p = Probe(kit, client, int(created["id"]), "M1")
    await p.act("POST", "/start")
    await p.act("POST", "/pause")
    first = await p.check(frozen=True)
    assert await p.check(frozen=True) == first  # from the cache, still exact
    await p.act("POST", "/step", {"bars": 3})
    stepped = await p.check(frozen=True)
    assert first is not None and stepped is not None and stepped > first
    await kit.sql(
        "UPDATE candles SET close = 9.99999 WHERE instrument_id = :iid AND timeframe = 'M1' "
        "AND ts = :ts",
        iid=week,
        ts=stepped,
    )
    page = await p.act("GET", "/candles?limit=1")
    assert page["candles"][-1]["close"] == 9.99999
    await p.act("POST", "/resume")
    seen = []
    for _ in range(3):
        await kit.rewind_anchor(p.id, 2)
        seen.append(await p.check(frozen=False))
    assert seen == sorted(seen) and seen[0] is not None and seen[0] > stepped
