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
- `fill` reserved for the positions engine: one per fill, in order with the bars.
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
from datetime import datetime, timedelta
from typing import Any

from fastapi import Request
from prometheus_client import Gauge
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.errors import is_database_unavailable

from ..candles.schemas import Bar, CandleOut
from . import service
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


def parse_last_event_id(raw: str | None) -> datetime | None:
    """The bar open time a reconnecting client saw last; anything else is ignored."""
    if not raw:
        return None
    try:
        return to_utc(datetime.fromisoformat(raw.strip()))
    except ValueError:
        return None


def start_cursor(first: SessionOut, last_event_id: datetime | None) -> datetime:
    """Bars after this instant are sent: after the client's last bar when it resumes, else
    the bars revealed from now on. The clock reveals no bar before `start_ts`."""
    floor = first.start_ts - _TICK
    if last_event_id is not None:
        return max(last_event_id, floor)
    return first.current_ts if first.current_ts is not None else floor


async def events(
    request: Request,
    sessionmaker: async_sessionmaker[AsyncSession],
    first: SessionOut,
    last_event_id: datetime | None,
) -> AsyncIterator[str]:
    """The event stream of one session, opened after its access check returned `first`."""
    sid, tf = first.id, first.timeframe
    status, speed = first.session_status, first.speed
    after = start_cursor(first, last_event_id)
    ACTIVE_STREAMS.inc()
    try:
        yield f"retry: {RETRY_MS}\n" + event(
            "state", _state(sid, tf, status, first.current_ts, speed)
        )
        quiet_since = time.monotonic()
        while not await request.is_disconnected():
            try:
                async with sessionmaker.begin() as s:
                    poll = await service.stream_poll(s, sid, after, limit=BATCH_BARS)
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
            out = [_bar_event(b) for b in poll.bars]
            if poll.bars:
                after = poll.bars[-1].ts
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
