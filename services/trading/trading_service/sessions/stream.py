"""`GET /sessions/{id}/stream`: the replay as Server-Sent Events (SPEC 3), at playback speed.

Events (`data:` is one line of JSON):

- `state` on connect, and when the speed changes: `{session_id, session_status, current_ts,
  speed, timeframe}`.
- `bar` one per revealed bar, in order, never a bar after the clock's `current_ts`:
  `{ts, open, high, low, close, volume}` at the session's timeframe. Its `id:` is the bar's
  open time, so a reconnect with `Last-Event-ID` resumes after that bar.
- `status` when `session_status` changes (after the bars revealed before the change): same
  payload as `state`. The stream ends after COMPLETED or ARCHIVED.
- `deleted` `{session_id}` when the session is deleted; the stream ends.
- `fill` one per fill (an order filled or rejected, a position opened, closed or partly
  closed), right after the bar it happened on: `{id, position_id, order_id, kind, reason,
  price, volume, ts, bar_ts}`; its `id:` is `<bar ts>#<fill id>`, so a reconnect resumes
  after a fill that shares its bar with others.
- `error` `{detail}` when the service cannot go on (the database is gone); the stream ends
  and the client reconnects with `Last-Event-ID`.
- `: ping` comments every ~15 s while nothing else was sent (proxies keep the connection).

No background ticker and no connection held open between reads. A stream reads the database
(one short transaction: the clock settled as every read settles it, its revealed bars and
fills) when it opens, when the process's LISTEN connection (`hub.py`) says its session
changed (a pause, speed change, step, seek, delete, fill: every one writes the session's row,
whose trigger notifies), and when the next bar to reveal may fill something or is the last
one (`next_event_ts`, the end: that bar is settled through `clock.settle` as any read does).
In between, a RUNNING stream computes from the anchor and the speed when its next bar is due
on the database's clock (as the hub measured it, and `SEND_DELAY_SECONDS` later, so never
early), and sends it from the process's bar cache (`replay/bar_cache.py`): an idle or
playing stream costs no query. While the LISTEN connection is down, streams poll as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from fastapi import Request
from prometheus_client import Counter, Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.errors import is_database_unavailable

from ..candles.schemas import Bar, CandleOut
from ..replay import bars as replay_bars
from ..replay import clock, fills
from ..replay.bar_cache import BarCache
from ..replay.models import Fill
from ..timeframes import Timeframe
from . import repository as sessions_repo
from .hub import StreamHub, Subscription
from .models import SessionStatus
from .schemas import SessionOut, iso_z, to_utc

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # without the LISTEN connection: the longest a change waits to be seen
MIN_POLL_SECONDS = 0.02
HEARTBEAT_SECONDS = 15.0
BATCH_BARS = 500  # bars read per poll; a larger backlog is sent batch after batch
RETRY_MS = 1000  # the client's reconnect delay
# A bar due at t (database clock) is sent at t + this, at the earliest: the margin covers a
# writer that froze the clock just before t and whose notification is still on its way.
SEND_DELAY_SECONDS = 0.025
DISCONNECT_CHECK_SECONDS = 1.0  # an idle stream looks for a gone client this often
# A playing stream sends at most this often (the bars due meanwhile go together): fewer
# wakes and writes per bar at 15x, for a few tens of ms of lateness.
MIN_SEND_INTERVAL_SECONDS = 0.1
FINISHED = (SessionStatus.COMPLETED, SessionStatus.ARCHIVED)
_TICK = timedelta(microseconds=1)
_SEND_DELAY = timedelta(seconds=SEND_DELAY_SECONDS)

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

ACTIVE_STREAMS = Gauge("trading_session_streams_active", "Open GET /sessions/{id}/stream responses")
STREAM_QUERIES = Counter(
    "trading_session_stream_queries",
    "Database statements run for GET /sessions/{id}/stream responses (bar cache reads included)",
)

_DB_WORK: ContextVar[bool] = ContextVar("trading_stream_db_work", default=False)


def counting() -> bool:
    """Whether the running statement is a stream's (the engine hook of `hub.install`)."""
    return _DB_WORK.get()


@contextlib.contextmanager
def _db_work() -> Iterator[None]:
    token = _DB_WORK.set(True)
    try:
        yield
    finally:
        _DB_WORK.reset(token)


# --- one read: the session as the stream sees it (one short transaction) ---


@dataclass
class KnownClock:
    """A RUNNING clock as a stream knows it between reads: bar `k` after the anchor's bar
    (`ts`) is revealed `k / speed` seconds after `anchor_at`; `ts` is the `k`-th."""

    anchor_at: datetime
    speed: str
    ts: datetime
    k: int
    next_event_ts: datetime | None
    end_ts: datetime | None

    def __post_init__(self) -> None:
        rate = clock.BARS_PER_SECOND[self.speed]  # integers: Fraction is slow at 7,500 bars/s
        self._num, self._den = rate.numerator, rate.denominator

    def bars_due(self, now: datetime) -> int:
        """`clock.bars_due(anchor_at, now, speed)`, in integers."""
        elapsed_us = (now - self.anchor_at) // _TICK
        return max(0, elapsed_us * self._num // (self._den * 1_000_000))

    def due_at(self, k: int) -> datetime:
        """The database-clock instant at which bar `k` after the anchor is revealed."""
        us = -(-k * self._den * 1_000_000 // self._num)  # ceil
        return self.anchor_at + timedelta(microseconds=us)

    def settles_at(self, bar: Bar, tf: Timeframe) -> bool:
        """Whether revealing `bar` may fill something: then a read settles it."""
        return self.next_event_ts is not None and self.next_event_ts < bar.ts + tf.delta


@dataclass(frozen=True)
class StreamPoll:
    """A session as one poll of `GET /sessions/{id}/stream` sees it."""

    status: str
    current_ts: datetime | None
    speed: str
    bars: list[Bar]  # revealed bars after the poll's cursor, oldest first, none after current_ts
    fills: list[Fill]  # fills after the fill cursor on bars up to the last bar sent, in order
    more: bool  # the batch was full: more revealed bars are waiting
    next_bar_in: float | None  # RUNNING, when asked: seconds until the clock's next bar
    clock: KnownClock | None = None  # RUNNING: how the clock goes on from here


async def stream_poll(
    s: AsyncSession,
    session_id: int,
    after: datetime,
    after_fill: int,
    *,
    limit: int,
    cache: BarCache | None = None,
    next_bar_in: bool = True,
) -> StreamPoll | None:
    """The clock as of now (every revealed fill processed), the revealed bars with open time
    in (`after`, current_ts] (from `cache` when given) and the fills after `after_fill` on
    bars up to the last one returned; None once the session is gone. Access was checked when
    the stream opened."""
    sess = await sessions_repo.get(s, session_id)
    if sess is None:
        return None
    out = (await clock.settle(s, [sess]))[0]
    found: list[Bar] = []
    if out.current_ts is not None and after < out.current_ts:
        if cache is not None:
            found = await cache.after(
                sess.instrument_id,
                Timeframe(sess.timeframe),
                after,
                limit,
                until=out.current_ts,
                db=s,
            )
        else:
            found = await replay_bars.revealed_between(s, sess, after, out.current_ts, limit=limit)
    more = len(found) >= limit
    new_fills: list[Fill] = []
    if out.current_ts is not None:
        until = found[-1].ts if more else out.current_ts
        new_fills = list(await fills.after(s, sess.id, after_fill, until_bar=until, limit=limit))
        if len(new_fills) >= limit:  # more fills wait: no bar after the last one sent yet
            found = [b for b in found if b.ts <= new_fills[-1].bar_ts]
    wait = None
    known = None
    if out.status == SessionStatus.RUNNING and sess.anchor_at is not None:
        assert out.current_ts is not None
        # Not materialized: current_ts is the `due`-th bar after the row's; else the row's.
        k = out.due if out.current_ts != sess.current_ts else 0
        known = KnownClock(
            sess.anchor_at, sess.speed, out.current_ts, k, sess.next_event_ts, sess.end_ts
        )
        if next_bar_in:
            wait = clock.seconds_to_next_bar(sess.anchor_at, await clock.db_now(s), sess.speed)
    return StreamPoll(
        status=out.status,
        current_ts=out.current_ts,
        speed=sess.speed,
        bars=found,
        fills=new_fills,
        more=more or len(new_fills) >= limit,
        next_bar_in=wait,
        clock=known,
    )


async def stream_fill_cursor(s: AsyncSession, session_id: int, bar_ts: datetime) -> int:
    """Where a stream picks fills up when it sends the bars after `bar_ts`: after every fill
    on an earlier bar (those were sent before that bar)."""
    return await fills.last_id_before_bar(s, session_id, bar_ts)


def event(name: str, data: dict[str, Any], *, event_id: str | None = None) -> str:
    """One SSE event; `data` is a single line of compact JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@lru_cache(maxsize=1 << 16)  # the cache hands every stream the same Bar objects
def _bar_event(bar: Bar) -> str:
    return event("bar", CandleOut.of(bar).model_dump(mode="json"), event_id=iso_z(bar.ts))


def _state(
    session_id: int, timeframe: str, status: str, current_ts: datetime | None, speed: str
) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "session_status": status,
        "current_ts": iso_z(current_ts) if current_ts is not None else None,
        "speed": speed,
        "timeframe": timeframe,
    }


def _fill_event(fill: Fill) -> str:
    data = {
        "id": fill.id,
        "position_id": fill.position_id,
        "order_id": fill.order_id,
        "kind": fill.kind,
        "reason": fill.reason,
        "price": float(fill.price),
        "volume": float(fill.volume),
        "ts": iso_z(fill.ts),
        "bar_ts": iso_z(fill.bar_ts),
    }
    return event("fill", data, event_id=f"{iso_z(fill.bar_ts)}#{fill.id}")


@dataclass(frozen=True)
class LastEventId:
    """What a reconnecting client saw last: a bar (`<bar ts>`) or a fill on a bar
    (`<bar ts>#<fill id>`)."""

    bar_ts: datetime
    fill_id: int | None


def parse_last_event_id(raw: str | None) -> LastEventId | None:
    """The client's `Last-Event-ID`; anything unparseable is ignored (a fresh start)."""
    if not raw:
        return None
    head, sep, tail = raw.strip().partition("#")
    try:
        bar_ts = to_utc(datetime.fromisoformat(head))
        fill_id = int(tail) if sep else None
    except (ValueError, OverflowError):
        return None
    if fill_id is not None and not 0 <= fill_id < 2**63:
        return None
    return LastEventId(bar_ts, fill_id)


def start_cursor(first: SessionOut, last_event_id: LastEventId | None) -> datetime:
    """Bars after this instant are sent: after the client's last bar when it resumes, else
    the bars revealed from now on. The clock reveals no bar before `start_ts`."""
    floor = first.start_ts - _TICK
    if last_event_id is not None:
        return max(last_event_id.bar_ts, floor)
    return first.current_ts if first.current_ts is not None else floor


async def start_fill_cursor(
    s: AsyncSession, session_id: int, after: datetime, last_event_id: LastEventId | None
) -> int:
    """Fills after this id are sent: after the client's last fill when it resumes from one;
    else every fill on a bar after `after` (the fills of a bar follow its bar event, and
    fills of one session are numbered in the order of their bars)."""
    if last_event_id is not None and last_event_id.fill_id is not None:
        return last_event_id.fill_id
    return await fills.last_id_before_bar(s, session_id, after + _TICK)


def _merge(bars: list[Bar], new_fills: list[Fill]) -> list[str]:
    """Bars and fills in time order: a bar's fills right after the bar (fills on bars sent
    before, such as market orders on the current bar, first)."""
    out: list[str] = []
    pending = list(new_fills)
    for bar in bars:
        while pending and pending[0].bar_ts < bar.ts:
            out.append(_fill_event(pending.pop(0)))
        out.append(_bar_event(bar))
    out.extend(_fill_event(f) for f in pending)
    return out


class _Playback:
    """One stream's cursors and what it knows of its clock."""

    def __init__(self, first: SessionOut, last_event_id: LastEventId | None) -> None:
        self.id, self.tf = first.id, Timeframe(first.timeframe)
        self.instrument_id = first.instrument_id
        self.status: str = first.session_status
        self.speed: str = first.speed
        self.after = start_cursor(first, last_event_id)  # the last bar sent
        self.after_fill: int | None = None  # the last fill sent (None: not looked up yet)
        self.last_event_id = last_event_id
        self.known: KnownClock | None = None  # RUNNING, as of the last read
        self.must_read = True
        self.more = False  # the last read left revealed bars or fills for the next one
        self.read_at = -math.inf
        self.poll: StreamPoll | None = None
        self.sent_at = -math.inf  # when `play` last sent bars

    async def read(
        self, sessionmaker: async_sessionmaker[AsyncSession], cache: BarCache | None
    ) -> list[str] | None:
        """Read the session (settling its clock): the events to send; None once deleted."""
        self.read_at = time.monotonic()
        with _db_work():
            async with sessionmaker.begin() as s:
                if self.after_fill is None:
                    self.after_fill = await start_fill_cursor(
                        s, self.id, self.after, self.last_event_id
                    )
                poll = await stream_poll(
                    s,
                    self.id,
                    self.after,
                    self.after_fill,
                    limit=BATCH_BARS,
                    cache=cache,
                    next_bar_in=cache is None,
                )
        if poll is None:
            return None
        out = _merge(poll.bars, poll.fills)
        if poll.bars:
            self.after = poll.bars[-1].ts
        if poll.fills:
            self.after_fill = poll.fills[-1].id
        self.more = poll.more
        self.must_read = poll.more
        self.known = poll.clock
        if not poll.more:  # a status change follows every bar revealed before it
            state = _state(self.id, self.tf.value, poll.status, poll.current_ts, poll.speed)
            if poll.status != self.status:
                out.append(event("status", state))
            elif poll.speed != self.speed:
                out.append(event("state", state))
            self.status, self.speed = poll.status, poll.speed
        self.poll = poll
        return out

    async def play(self, hub: StreamHub) -> list[str]:
        """The bars a RUNNING clock revealed since, by the hub's reading of the database
        clock (`SEND_DELAY_SECONDS` ago), from the bar cache; the next one is read from the
        database instead when it may fill something or ends the replay."""
        known, now = self.known, hub.db_now()
        if known is None or now is None:
            self.must_read = True
            return []
        due = known.bars_due(now - _SEND_DELAY)
        if due <= known.k:
            return []
        want = min(due - known.k, BATCH_BARS)
        with _db_work():  # a chunk of bars the cache does not hold yet
            upcoming = await hub.bars.after(
                self.instrument_id, self.tf, known.ts, want + 1, until=known.end_ts
            )
        sent: list[Bar] = []
        for i, bar in enumerate(upcoming[:want]):
            last = i + 1 >= len(upcoming)  # no bar after it: it ends the replay
            if last or known.settles_at(bar, self.tf):
                self.must_read = True  # settled by the database, as any read does
                break
            known.ts, known.k = bar.ts, known.k + 1
            if bar.ts > self.after:
                sent.append(bar)
        if sent:
            self.after = sent[-1].ts
            self.sent_at = time.monotonic()
        return _merge(sent, [])

    def wait_seconds(self, hub: StreamHub | None, live: bool) -> float:
        """How long to sleep before the next look (a notification cuts it short)."""
        if not live or hub is None:
            wait = POLL_SECONDS
            if self.poll is not None and self.poll.next_bar_in is not None:
                wait = min(POLL_SECONDS, self.poll.next_bar_in + 0.005)  # just after it is due
            return max(MIN_POLL_SECONDS, wait)
        if self.must_read:  # the next bar is settled by a read: not more often than this
            return self.read_at + MIN_POLL_SECONDS - time.monotonic()
        if self.known is None:
            return DISCONNECT_CHECK_SECONDS
        wake = hub.db_time_to_monotonic(self.known.due_at(self.known.k + 1))
        if wake is None:
            return MIN_POLL_SECONDS
        wake = max(wake + SEND_DELAY_SECONDS, self.sent_at + MIN_SEND_INTERVAL_SECONDS)
        return min(DISCONNECT_CHECK_SECONDS, wake - time.monotonic())


async def events(
    request: Request,
    sessionmaker: async_sessionmaker[AsyncSession],
    first: SessionOut,
    last_event_id: LastEventId | None,
) -> AsyncIterator[str]:
    """The event stream of one session, opened after its access check returned `first`."""
    hub: StreamHub | None = getattr(request.app.state, "stream_hub", None)
    pb = _Playback(first, last_event_id)
    sub: Subscription | None = None
    if hub is not None:
        sub = hub.subscribe(pb.id, pb.instrument_id)
    ACTIVE_STREAMS.inc()
    try:
        yield f"retry: {RETRY_MS}\n" + event(
            "state", _state(pb.id, pb.tf.value, pb.status, first.current_ts, pb.speed)
        )
        quiet_since = checked = time.monotonic()
        while True:
            live = hub is not None and sub is not None and hub.live
            try:
                if not live or pb.must_read or (sub is not None and sub.changed):
                    if sub is not None:
                        sub.changed = False  # a notification from now on reads again
                    out = await pb.read(sessionmaker, hub.bars if live and hub else None)
                    if out is None:
                        yield event("deleted", {"session_id": pb.id})
                        return
                elif pb.known is not None and hub is not None:
                    out = await pb.play(hub)
                else:
                    out = []
            except Exception as exc:
                if is_database_unavailable(exc):
                    log.warning("stream ends: database unavailable", extra={"session_id": pb.id})
                else:
                    log.exception("stream ends: poll failed", extra={"session_id": pb.id})
                yield event("error", {"detail": "Service temporarily unavailable"})
                return
            if out:
                yield "".join(out)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                yield ": ping\n\n"
                quiet_since = time.monotonic()
            if pb.more:
                continue
            if pb.status in FINISHED:
                return
            now = time.monotonic()
            if now - checked >= DISCONNECT_CHECK_SECONDS:
                if await request.is_disconnected():
                    return
                checked = now
            wait = pb.wait_seconds(hub, live)
            wait = min(wait, quiet_since + HEARTBEAT_SECONDS - now)
            if sub is not None:
                await sub.wait(wait)
            elif wait > 0:
                await asyncio.sleep(wait)
    finally:
        if hub is not None and sub is not None:
            hub.unsubscribe(sub)
        ACTIVE_STREAMS.dec()
