"""Business rules of trading sessions: access, validation against other rows, the lifecycle.

Every write locks the session row (`SELECT ... FOR UPDATE`), materializes its clock at the
database's wall clock, then checks the state: concurrent transitions serialize on the row, so
two clients never both win. Services flush; the request's session dependency commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import BadRequest, Forbidden, NotFound, Unprocessable
from servicekit.security import Principal

from ..candles.schemas import Bar, CandleOut
from ..replay import bars, clock
from ..timeframes import Timeframe, available_timeframes
from . import repository as repo
from .lifecycle import Action, action_for, check_action
from .models import SessionStatus, TradingSession
from .schemas import (
    SeekRequest,
    SessionCandles,
    SessionCreate,
    SessionList,
    SessionOut,
    SessionUpdate,
    StepRequest,
)

_TICK = timedelta(microseconds=1)
STARTED = (SessionStatus.RUNNING, SessionStatus.PAUSED)
FINISHED = (SessionStatus.COMPLETED, SessionStatus.ARCHIVED)


def field_error(loc: list[str | int], message: str) -> Unprocessable:
    """A 422 shaped like FastAPI's own validation errors."""
    return Unprocessable(message, details=[{"loc": loc, "msg": message, "type": "value_error"}])


def _authorize(principal: Principal, sess: TradingSession) -> None:
    if not principal.is_admin and sess.user_id != principal.user_id:
        raise Forbidden("Not the owner of this session")


async def _visible(s: AsyncSession, principal: Principal, session_id: int) -> TradingSession:
    sess = await repo.get(s, session_id)
    if sess is None:
        raise NotFound("Session not found")
    _authorize(principal, sess)
    return sess


async def _locked(
    s: AsyncSession, principal: Principal, session_id: int
) -> tuple[TradingSession, datetime]:
    """The row locked for this transaction, its clock materialized, and the instant used."""
    sess = await repo.get(s, session_id, for_update=True)
    if sess is None:
        raise NotFound("Session not found")
    _authorize(principal, sess)
    now = await clock.db_now(s)  # read after the lock: waiting never makes time run backwards
    await clock.materialize(s, sess, now)
    return sess, now


async def _settle(s: AsyncSession, sessions: list[TradingSession]) -> list[SessionOut]:
    """The rows as seen by their clocks now.

    A RUNNING row is read again after the database clock was taken: a writer that committed
    before that re-read (a pause, say) is seen, and one that commits later anchors after
    `now`, so a read never shows a bar the writer's state has not revealed. Rows that are not
    RUNNING need no clock (one query for them). Sessions whose clock reached the end are
    completed for good (locked, re-read and persisted, so a racing writer is never lost).
    """
    running = [x for x in sessions if x.session_status == SessionStatus.RUNNING]
    if not running:
        return [SessionOut.build(x) for x in sessions]
    now = await clock.db_now(s)
    await repo.reload(s, running)
    readings = [await clock.read(s, x, now) for x in sessions]
    finished = [x for x, r in zip(sessions, readings, strict=True) if r.just_completed]
    if finished:
        await repo.lock_for_update(s, finished)
        locked_now = await clock.db_now(s)
        for x in finished:
            await clock.materialize(s, x, locked_now)
        done = {x.id for x in finished}
        readings = [
            clock.ClockReading(x.session_status, x.current_ts) if x.id in done else r
            for x, r in zip(sessions, readings, strict=True)
        ]
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
    return SessionList(sessions=await _settle(s, rows), total=total, page=page, limit=limit)


async def get_session(s: AsyncSession, principal: Principal, session_id: int) -> SessionOut:
    sess = await _visible(s, principal, session_id)
    return (await _settle(s, [sess]))[0]


async def session_candles(
    s: AsyncSession,
    principal: Principal,
    session_id: int,
    *,
    limit: int,
    before: datetime | None,
) -> SessionCandles:
    """Bars with open time <= the clock's current_ts as of now (a DRAFT: before start_ts)."""
    sess = await _visible(s, principal, session_id)
    out = (await _settle(s, [sess]))[0]
    if out.current_ts is None:
        until = sess.start_ts - _TICK  # not started: history strictly before start_ts only
    else:
        until = out.current_ts
    found = await bars.visible_bars(s, sess, until_ts=until, limit=limit, before=before)
    # Defence in depth: whatever the store returns, nothing after the clock leaves here.
    candles = [CandleOut.of(b) for b in found if b.ts <= until]
    return SessionCandles(
        session_id=sess.id,
        instrument_id=sess.instrument_id,
        timeframe=sess.timeframe,
        current_ts=out.current_ts,
        candles=candles,
    )


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


async def delete_session(s: AsyncSession, principal: Principal, session_id: int) -> None:
    sess = await repo.get(s, session_id, for_update=True)
    if sess is None:
        raise NotFound("Session not found")
    _authorize(principal, sess)
    await repo.remove(s, sess)


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


async def transition(
    s: AsyncSession, principal: Principal, session_id: int, action: Action
) -> SessionOut:
    sess, now = await _locked(s, principal, session_id)
    await _apply(s, sess, action, now)
    return SessionOut.build(sess)


async def update_session(
    s: AsyncSession, principal: Principal, session_id: int, body: SessionUpdate
) -> SessionOut:
    """end_ts, then speed, then the status change, all on the clock as of now."""
    sess, now = await _locked(s, principal, session_id)
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


async def step_session(
    s: AsyncSession, principal: Principal, session_id: int, body: StepRequest
) -> SessionOut:
    """`bars` more bars, or (`until: "fill"`) up to the next fill or the end."""
    sess, now = await _locked(s, principal, session_id)
    if sess.session_status not in STARTED:
        raise BadRequest(f"Cannot step a {sess.session_status} session (RUNNING or PAUSED only)")
    if body.until == "fill":
        await clock.step_until_fill(s, sess, now)
    else:
        await clock.step(s, sess, body.bars, now)
    return SessionOut.build(sess)


async def seek_session(
    s: AsyncSession, principal: Principal, session_id: int, body: SeekRequest
) -> SessionOut:
    sess, now = await _locked(s, principal, session_id)
    if sess.session_status not in STARTED:
        raise BadRequest(f"Cannot seek a {sess.session_status} session (RUNNING or PAUSED only)")
    assert sess.current_ts is not None
    if body.ts < sess.current_ts:
        raise field_error(
            ["body", "ts"], "seek is forward only: ts is before the session's current_ts"
        )
    await clock.seek(s, sess, body.ts, now)
    return SessionOut.build(sess)


# --- the event stream's view of a session (one short transaction per poll) ---


@dataclass(frozen=True)
class StreamPoll:
    """A session as one poll of `GET /sessions/{id}/stream` sees it."""

    status: str
    current_ts: datetime | None
    speed: str
    bars: list[Bar]  # revealed bars after the poll's cursor, oldest first, none after current_ts
    more: bool  # the batch was full: more revealed bars are waiting
    next_bar_in: float | None  # RUNNING: seconds until the clock reveals its next bar


async def stream_poll(
    s: AsyncSession, session_id: int, after: datetime, *, limit: int
) -> StreamPoll | None:
    """The clock as of now and the revealed bars with open time in (`after`, current_ts];
    None once the session is gone. Access was checked when the stream opened."""
    sess = await repo.get(s, session_id)
    if sess is None:
        return None
    out = (await _settle(s, [sess]))[0]
    found: list[Bar] = []
    if out.current_ts is not None and after < out.current_ts:
        found = await bars.revealed_between(s, sess, after, out.current_ts, limit=limit)
    wait = None
    if out.session_status == SessionStatus.RUNNING and sess.anchor_at is not None:
        wait = clock.seconds_to_next_bar(sess.anchor_at, await clock.db_now(s), sess.speed)
    return StreamPoll(
        status=out.session_status,
        current_ts=out.current_ts,
        speed=out.speed,
        bars=found,
        more=len(found) >= limit,
        next_bar_in=wait,
    )
