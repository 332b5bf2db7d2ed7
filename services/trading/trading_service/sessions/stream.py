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

No background ticker and no connection held open: each poll reads the clock from the
database in its own short transaction, then sleeps until the clock's next bar is due (at most
`POLL_SECONDS`), so any replica serves any stream and a pause or a step shows up promptly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.errors import is_database_unavailable

from ..candles.schemas import Bar, CandleOut
from ..replay import bars as replay_bars
from ..replay import clock, fills
from ..replay.models import Fill
from . import repository as sessions_repo
from .models import SessionStatus
from .schemas import SessionOut, iso_z, to_utc

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # the longest a change (pause, step, speed) waits to be seen
MIN_POLL_SECONDS = 0.02
HEARTBEAT_SECONDS = 15.0
BATCH_BARS = 500  # bars read per poll; a larger backlog is sent batch after batch
RETRY_MS = 1000  # the client's reconnect delay
FINISHED = (SessionStatus.COMPLETED, SessionStatus.ARCHIVED)
_TICK = timedelta(microseconds=1)

HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

ACTIVE_STREAMS = Gauge("trading_session_streams_active", "Open GET /sessions/{id}/stream responses")


# --- one poll: the session as the stream sees it (one short transaction) ---


@dataclass(frozen=True)
class StreamPoll:
    """A session as one poll of `GET /sessions/{id}/stream` sees it."""

    status: str
    current_ts: datetime | None
    speed: str
    bars: list[Bar]  # revealed bars after the poll's cursor, oldest first, none after current_ts
    fills: list[Fill]  # fills after the fill cursor on bars up to the last bar sent, in order
    more: bool  # the batch was full: more revealed bars are waiting
    next_bar_in: float | None  # RUNNING: seconds until the clock reveals its next bar


async def stream_poll(
    s: AsyncSession, session_id: int, after: datetime, after_fill: int, *, limit: int
) -> StreamPoll | None:
    """The clock as of now (every revealed fill processed), the revealed bars with open time
    in (`after`, current_ts] and the fills after `after_fill` on bars up to the last one
    returned; None once the session is gone. Access was checked when the stream opened."""
    sess = await sessions_repo.get(s, session_id)
    if sess is None:
        return None
    out = (await clock.settle(s, [sess]))[0]
    found: list[Bar] = []
    if out.current_ts is not None and after < out.current_ts:
        found = await replay_bars.revealed_between(s, sess, after, out.current_ts, limit=limit)
    more = len(found) >= limit
    new_fills: list[Fill] = []
    if out.current_ts is not None:
        until = found[-1].ts if more else out.current_ts
        new_fills = list(await fills.after(s, sess.id, after_fill, until_bar=until, limit=limit))
        if len(new_fills) >= limit:  # more fills wait: no bar after the last one sent yet
            found = [b for b in found if b.ts <= new_fills[-1].bar_ts]
    wait = None
    if out.status == SessionStatus.RUNNING and sess.anchor_at is not None:
        wait = clock.seconds_to_next_bar(sess.anchor_at, await clock.db_now(s), sess.speed)
    return StreamPoll(
        status=out.status,
        current_ts=out.current_ts,
        speed=sess.speed,
        bars=found,
        fills=new_fills,
        more=more or len(new_fills) >= limit,
        next_bar_in=wait,
    )


async def stream_fill_cursor(s: AsyncSession, session_id: int, bar_ts: datetime) -> int:
    """Where a stream picks fills up when it sends the bars after `bar_ts`: after every fill
    on an earlier bar (those were sent before that bar)."""
    return await fills.last_id_before_bar(s, session_id, bar_ts)


def event(name: str, data: dict[str, Any], *, event_id: str | None = None) -> str:
    """One SSE event; `data` is a single line of compact JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


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


async def events(
    request: Request,
    sessionmaker: async_sessionmaker[AsyncSession],
    first: SessionOut,
    last_event_id: LastEventId | None,
) -> AsyncIterator[str]:
    """The event stream of one session, opened after its access check returned `first`."""
    sid, tf = first.id, first.timeframe
    status, speed = first.session_status, first.speed
    after = start_cursor(first, last_event_id)
    after_fill: int | None = None
    ACTIVE_STREAMS.inc()
    try:
        yield f"retry: {RETRY_MS}\n" + event(
            "state", _state(sid, tf, status, first.current_ts, speed)
        )
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            try:
                async with sessionmaker.begin() as s:
                    if after_fill is None:
                        after_fill = await start_fill_cursor(s, sid, after, last_event_id)
                    poll = await stream_poll(s, sid, after, after_fill, limit=BATCH_BARS)
            except Exception as exc:
                if is_database_unavailable(exc):
                    log.warning("stream ends: database unavailable", extra={"session_id": sid})
                else:
                    log.exception("stream ends: poll failed", extra={"session_id": sid})
                yield event("error", {"detail": "Service temporarily unavailable"})
                return
            if poll is None:
                yield event("deleted", {"session_id": sid})
                return
            out = _merge(poll.bars, poll.fills)
            if poll.bars:
                after = poll.bars[-1].ts
            if poll.fills:
                after_fill = poll.fills[-1].id
            if not poll.more:  # a status change follows every bar revealed before it
                state = _state(sid, tf, poll.status, poll.current_ts, poll.speed)
                if poll.status != status:
                    out.append(event("status", state))
                elif poll.speed != speed:
                    out.append(event("state", state))
                status, speed = poll.status, poll.speed
            if out:
                yield "".join(out)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
                yield ": ping\n\n"
                quiet_since = time.monotonic()
            if poll.more:
                continue
            if status in FINISHED:
                return
            wait = POLL_SECONDS
            if poll.next_bar_in is not None:  # wake just after the clock's next bar is due
                wait = min(POLL_SECONDS, poll.next_bar_in + 0.005)
            await asyncio.sleep(max(MIN_POLL_SECONDS, wait))
    finally:
        ACTIVE_STREAMS.dec()
