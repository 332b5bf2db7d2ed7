"""One LISTEN connection per process, fanned out to the process's event streams.

Migration 0006's triggers NOTIFY `trading_sessions` with a session's id on every UPDATE or
DELETE of its row (clock, status, speed, balance, fills: all of them write the row) and
`trading_candles` with the instrument ids of every candle write. The hub wakes the streams
of that session (or instrument) and drops the instrument's cached bars; a stream then reads
the database once. Between notifications a RUNNING stream computes when its next bar is due
from the anchor and the speed, on the database's clock as the hub measured it.

The connection is re-made with backoff when it drops; notifications may have been missed
meanwhile, so every stream is woken (it reads again) and the bar cache is emptied both when
it drops and when it is back. While it is down, `live` is False and streams poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from ..replay.bar_cache import BarCache

log = logging.getLogger(__name__)

SESSIONS_CHANNEL = "trading_sessions"  # as migration 0006 names them
CANDLES_CHANNEL = "trading_candles"
CLOCK_REMEASURE_SECONDS = 30.0  # also how soon a silently dead connection is noticed
CLOCK_SAMPLES = 3  # the fastest round trip of these bounds the offset's error
BACKOFF_SECONDS = (0.1, 5.0)


class Subscription:
    """One stream's doorbell: rung by a notification for its session or instrument."""

    __slots__ = ("_waiter", "changed", "instrument_id", "session_id")

    def __init__(self, session_id: int, instrument_id: int) -> None:
        self.session_id = session_id
        self.instrument_id = instrument_id
        self.changed = True  # read the database first
        self._waiter: asyncio.Future[None] | None = None

    def ring(self) -> None:
        self.changed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def wait(self, seconds: float) -> None:
        """Until rung or `seconds` passed (one future and one timer: cheap at 500 streams)."""
        if self.changed or seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class StreamHub:
    """The process's LISTEN connection, its subscriptions, its bar cache and its reading of
    the database clock."""

    def __init__(self, dsn: str, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._dsn = dsn
        self.bars = BarCache(sessionmaker.begin)
        self._by_session: dict[int, set[Subscription]] = {}
        self._offset: float | None = None  # database epoch seconds - local monotonic seconds
        self._task: asyncio.Task[None] | None = None
        self.live = False
        self.notifications = 0
        self.server_pid: int | None = None  # the LISTEN connection's backend

    # --- streams ---

    def subscribe(self, session_id: int, instrument_id: int) -> Subscription:
        sub = Subscription(session_id, instrument_id)
        self._by_session.setdefault(session_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._by_session.get(sub.session_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._by_session[sub.session_id]

    def db_now(self) -> datetime | None:
        """The database's clock_timestamp() now, never ahead of it (by at most the fastest
        measured round trip behind); None while the hub is not live."""
        if not self.live or self._offset is None:
            return None
        return datetime.fromtimestamp(time.monotonic() + self._offset, UTC)

    def db_time_to_monotonic(self, at: datetime) -> float | None:
        """The local monotonic instant at which the database clock reads `at` (at the latest)."""
        if self._offset is None:
            return None
        return at.timestamp() - self._offset

    def _ring_all(self) -> None:
        for subs in self._by_session.values():
            for sub in subs:
                sub.ring()

    def _on_session(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        if payload == "*":
            self._ring_all()
            return
        with contextlib.suppress(ValueError):
            for sub in self._by_session.get(int(payload), ()):
                sub.ring()

    def _on_candles(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        if payload == "*":
            self.bars.invalidate(None)
            self._ring_all()
            return
        ids = {int(x) for x in payload.split(",") if x.strip().isdigit()}
        for iid in ids:
            self.bars.invalidate(iid)
        for subs in self._by_session.values():
            for sub in subs:
                if sub.instrument_id in ids:
                    sub.ring()

    # --- the connection ---

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stream-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _measure(self, conn: asyncpg.Connection) -> None:
        """Offset of the database clock from the local monotonic clock; each sample is taken
        as if read at the end of its round trip, so the estimate is late, never early."""
        best: tuple[float, float] | None = None
        for _ in range(CLOCK_SAMPLES):
            t0 = time.monotonic()
            db: datetime = await conn.fetchval("SELECT clock_timestamp()", timeout=5)
            t1 = time.monotonic()
            if best is None or t1 - t0 < best[0]:
                best = (t1 - t0, db.timestamp() - t1)
        assert best is not None
        self._offset = best[1]

    async def _run(self) -> None:
        backoff = BACKOFF_SECONDS[0]
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                await conn.add_listener(SESSIONS_CHANNEL, self._on_session)
                await conn.add_listener(CANDLES_CHANNEL, self._on_candles)
                await self._measure(conn)
                self.server_pid = conn.get_server_pid()
                # Listening from here on: whatever changed before, the woken streams read.
                self.live = True
                self.bars.invalidate(None)
                self._ring_all()
                backoff = BACKOFF_SECONDS[0]
                while not lost.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(lost.wait(), CLOCK_REMEASURE_SECONDS)
                    if not lost.is_set():
                        await self._measure(conn)
                log.warning("stream hub: the LISTEN connection was closed")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("stream hub: LISTEN connection failed", extra={"error": repr(exc)})
            finally:
                if self.live:
                    self.live = False
                    self.bars.invalidate(None)
                    self._ring_all()  # they poll until the hub is back
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_SECONDS[1])


def count_queries(
    engine: AsyncEngine, counted: Callable[[], bool], on_query: Callable[[], None]
) -> None:
    """Call `on_query` for each statement the engine runs while `counted()` is true."""

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(*_: Any) -> None:
        if counted():
            on_query()


def install(app: FastAPI, database_url: str) -> StreamHub:
    """A hub on `app.state.stream_hub`, started and stopped with the app's lifespan."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    hub = StreamHub(dsn, app.state.db.sessionmaker)
    app.state.stream_hub = hub
    from . import stream

    count_queries(app.state.db.engine, stream.counting, stream.STREAM_QUERIES.inc)
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        async with inner(a) as state:
            await hub.start()
            try:
                yield state
            finally:
                await hub.stop()

    app.router.lifespan_context = lifespan
    return hub
