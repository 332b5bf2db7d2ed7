"""Business rules of trading sessions: access, validation against other rows, the lifecycle.

Every write gets its session locked (`SELECT ... FOR UPDATE`) and its clock materialized at
the database's wall clock (`LockedSession`), then checks the state: concurrent transitions
serialize on the row, so two clients never both win. Reads get it settled (`VisibleSession`).
Services flush; the request's session dependency commits.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from hashlib import sha1
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import BadRequest, Unprocessable
from servicekit.responses import dumps
from servicekit.security import Principal

from ..replay import bars, clock
from ..timeframes import Timeframe, available_timeframes
from . import repository as repo
from .dependencies import LockedSessionView, SessionView
from .lifecycle import FINISHED, Action, action_for, check_action
from .models import SessionStatus, TradingSession
from .schemas import (
    SeekRequest,
    SessionCreate,
    SessionList,
    SessionOut,
    SessionUpdate,
    StepRequest,
)

_TICK = timedelta(microseconds=1)


def field_error(loc: list[str | int], message: str) -> Unprocessable:
    """A 422 shaped like FastAPI's own validation errors."""
    return Unprocessable(message, details=[{"loc": loc, "msg": message, "type": "value_error"}])


def _outs(sessions: list[TradingSession], readings: list[clock.ClockReading]) -> list[SessionOut]:
    return [
        SessionOut.build(x, status=r.status, current_ts=r.current_ts)
        for x, r in zip(sessions, readings, strict=True)
    ]


# --- reads ---


async def list_sessions(
    s: AsyncSession,
    principal: Principal,
    f: repo.ListFilter,
    *,
    page: int,
    limit: int,
    sort: str,
    order: repo.SortOrder,
) -> SessionList:
    rows, total = await repo.list_page(
        s, f, sort=sort, order=order, offset=(page - 1) * limit, limit=limit
    )
    readings = await clock.settle(s, rows)
    return SessionList(sessions=_outs(rows, readings), total=total, page=page, limit=limit)


# A window that ends before `before` <= current_ts is history the clock can no longer change
# (only an admin's re-import could, hence a short max-age); the latest window changes with
# the clock, so it is revalidated each time (its ETag still spares the body).
CANDLES_HISTORY_CACHE = "private, max-age=60"
CANDLES_LIVE_CACHE = "private, no-cache"


class _Windows:
    """Candle windows (the JSON array and its SHA-1) by what determines them: instrument,
    timeframe, the last bar's time, `before`, `limit`, the instrument's candles version and
    the candles generation (renewed in every candle write's transaction, read with the
    session). A hit is exactly
    what the table would give; a clock that moved or an import is a miss. Least recently
    used first out, within `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[tuple[Any, ...], tuple[bytes, bytes]] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> tuple[bytes, bytes] | None:
        found = self.entries.get(key)
        if found is not None:
            self.entries.move_to_end(key)
        return found

    def put(self, key: tuple[Any, ...], value: tuple[bytes, bytes]) -> None:
        if key in self.entries or len(value[0]) > self.max_bytes:
            return
        self.entries[key] = value
        self.size += len(value[0])
        while self.size > self.max_bytes:
            _, (old, _) = self.entries.popitem(last=False)
            self.size -= len(old)


WINDOWS = _Windows(max_bytes=32 * 2**20)


async def session_candles(
    read: Any, view: SessionView, *, limit: int, before: datetime | None
) -> tuple[bytes, str, str]:
    """`SessionCandles`' JSON: bars with open time <= the clock's current_ts as of now (a
    DRAFT: before start_ts), oldest first, read on `read` (a `Database.reader()`
    connection) or from `WINDOWS`; its Cache-Control and its ETag."""
    sess = view.values
    if view.current_ts is None:
        until = sess["start_ts"] - _TICK  # not started: history strictly before start_ts only
    else:
        until = view.current_ts
    version = sess.get("candles_version")  # None after a settle (the ORM row): no cache
    generation = sess.get("candles_generation")
    key = (sess["instrument_id"], sess["timeframe"], until, before, limit, version, generation)
    window = WINDOWS.get(key) if version is not None else None
    if window is None:
        # The store's `ts <= until` keeps every bar after the clock out of the array.
        text_ = await bars.visible_window_json(
            read, sess, until_ts=until, limit=limit, before=before
        )
        array = text_.encode()
        window = (array, sha1(array, usedforsecurity=False).digest())
        if version is not None:
            WINDOWS.put(key, window)
    array, digest = window
    head = dumps(
        {
            "session_id": sess["id"],
            "instrument_id": sess["instrument_id"],
            "timeframe": sess["timeframe"],
            "current_ts": view.current_ts,
        }
    )
    body = head[:-1] + b',"candles":' + array + b"}"
    # Equal bodies, equal tags: the body is its head and its array, nothing else.
    etag = '"' + sha1(head + digest, usedforsecurity=False).hexdigest() + '"'
    fixed = before is not None and view.current_ts is not None and before <= view.current_ts
    return body, CANDLES_HISTORY_CACHE if fixed else CANDLES_LIVE_CACHE, etag


# --- writes ---


async def create_session(s: AsyncSession, principal: Principal, body: SessionCreate) -> SessionOut:
    instrument = await repo.instrument_for_session(s, body.instrument_id)
    if instrument is None:
        raise field_error(["body", "instrument_id"], "instrument_id: instrument does not exist")
    base = Timeframe(instrument.base_timeframe)
    if not body.timeframe.at_or_above(base):
        raise field_error(
            ["body", "timeframe"],
            f"timeframe {body.timeframe.value} is below the instrument's base timeframe "
            f"{base.value}",
        )
    if body.timeframe not in available_timeframes(base):
        raise field_error(
            ["body", "timeframe"],
            f"timeframe {body.timeframe.value} cannot be built from the instrument's "
            f"{base.value} bars",
        )
    sess = TradingSession(
        user_id=principal.user_id,
        instrument_id=body.instrument_id,
        timeframe=body.timeframe.value,
        session_status=SessionStatus.DRAFT.value,
        speed=body.speed.value,
        start_ts=body.start_ts,
        end_ts=body.end_ts,
        initial_balance=body.initial_balance,
        leverage=body.leverage,
        spread_pts=body.spread_pts,
        slippage_pts=body.slippage_pts,
        commission_per_fill=body.commission_per_fill,
    )
    await repo.add(s, sess)
    return SessionOut.build(sess)


async def delete_session(s: AsyncSession, view: LockedSessionView) -> None:
    await repo.remove(s, view.row)


async def _apply(s: AsyncSession, sess: TradingSession, action: Action, now: datetime) -> None:
    """One lifecycle action on a locked, materialized session."""
    check_action(action, sess.session_status)
    if action is Action.START:
        first = await bars.first_bar(s, sess)
        if first is None:
            raise BadRequest(
                f"Cannot start: instrument {sess.instrument_id} has no {sess.timeframe} bars "
                "between start_ts and end_ts"
            )
        await clock.start(s, sess, first, now)
        return
    if action is Action.PAUSE:
        await clock.pause(s, sess, now)
    elif action is Action.RESUME:
        await clock.resume(s, sess, now)
    elif action is Action.STOP:
        await clock.finish(s, sess, now)
    elif action is Action.ARCHIVE:
        sess.session_status = SessionStatus.ARCHIVED
        sess.updated_at = now
        await s.flush()


async def transition(s: AsyncSession, view: LockedSessionView, action: Action) -> SessionOut:
    await _apply(s, view.row, action, view.now)
    return view.out()


async def update_session(
    s: AsyncSession, view: LockedSessionView, body: SessionUpdate
) -> SessionOut:
    """end_ts, then speed, then the status change, all on the clock as of now."""
    sess, now = view.row, view.now
    if "end_ts" in body.model_fields_set and body.end_ts != sess.end_ts:
        if sess.session_status in FINISHED:
            raise BadRequest(f"end_ts of a {sess.session_status} session cannot change")
        if body.end_ts is not None:
            if body.end_ts <= sess.start_ts:
                raise field_error(["body", "end_ts"], "end_ts must be after start_ts")
            if sess.current_ts is not None and body.end_ts < sess.current_ts:
                raise field_error(
                    ["body", "end_ts"],
                    "end_ts is before current_ts: bars after it were already revealed",
                )
        sess.end_ts = body.end_ts
        sess.updated_at = now
        await s.flush()
        await clock.recheck_end(s, sess, now)
    if body.speed is not None and body.speed != sess.speed:
        if sess.session_status in FINISHED:
            raise BadRequest(f"speed of a {sess.session_status} session cannot change")
        await clock.set_speed(s, sess, body.speed.value, now)  # materialized above
    if body.session_status is not None:
        action = action_for(sess.session_status, body.session_status)
        await _apply(s, sess, action, now)
    return SessionOut.build(sess)


async def step_session(s: AsyncSession, view: LockedSessionView, body: StepRequest) -> SessionOut:
    """`bars` more bars, or (`until: "fill"`) up to the next fill or the end."""
    view.require_started("step")
    if body.until == "fill":
        await clock.step_until_fill(s, view.row, view.now)
    else:
        await clock.step(s, view.row, body.bars, view.now)
    return view.out()


async def seek_session(s: AsyncSession, view: LockedSessionView, body: SeekRequest) -> SessionOut:
    view.require_started("seek")
    sess, now = view.row, view.now
    assert sess.current_ts is not None
    if body.ts < sess.current_ts:
        raise field_error(
            ["body", "ts"], "seek is forward only: ts is before the session's current_ts"
        )
    await clock.seek(s, sess, body.ts, now)
    return view.out()
