"""The replay clock (SPEC section 3): which bars a session has revealed, and moving it on.

No background ticker: a RUNNING session stores the bar it had revealed (`current_ts`) and the
database-clock instant of that anchor (`anchor_at`); the bars revealed since are
floor(elapsed seconds x speed), counted over the bars that exist, so every replica that reads
the row computes the same `current_ts`. Pausing, a speed change, a step or a seek first
materializes the clock (persists what was revealed) and re-anchors it.

`advance_to` is the only place where a clock moves from bar A to bar B: there the engine
processes every base bar revealed in between, in order (orders, stops, stop-out), and
`finish` is the one place a replay ends (SESSION_END closes). `settle` is how reads see a
RUNNING clock: without writing, unless the clock passed the session's `next_event_ts` (a fill
may be due) or its last bar; then under the row lock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..ledger import repository as ledger_repo
from ..ledger.models import TransactionType
from ..sessions import repository as sessions_repo
from ..sessions.models import SessionStatus, Speed, TradingSession
from ..timeframes import Timeframe
from . import bars, engine

# Bars revealed per wall-clock second, exact (0.5x = one bar every two seconds).
BARS_PER_SECOND: dict[str, Fraction] = {
    Speed.X0_5: Fraction(1, 2),
    Speed.X1: Fraction(1),
    Speed.X2: Fraction(2),
    Speed.X3: Fraction(3),
    Speed.X5: Fraction(5),
    Speed.X10: Fraction(10),
    Speed.X15: Fraction(15),
}

_MICROSECOND = timedelta(microseconds=1)


def bars_due(anchor_at: datetime, now: datetime, speed: str) -> int:
    """Bars revealed between `anchor_at` and `now` at `speed` (pure; never negative)."""
    elapsed_us = (now - anchor_at) // _MICROSECOND
    if elapsed_us <= 0:
        return 0
    return math.floor(Fraction(elapsed_us, 1_000_000) * BARS_PER_SECOND[speed])


def seconds_to_next_bar(anchor_at: datetime, now: datetime, speed: str) -> float:
    """Wall-clock seconds from `now` until a clock anchored at `anchor_at` reveals its next
    bar (pure; bars are counted, not timestamps, so gaps in the data do not matter)."""
    rate = BARS_PER_SECOND[speed]
    due_at_us = math.ceil(Fraction(bars_due(anchor_at, now, speed) + 1) / rate * 1_000_000)
    elapsed_us = (now - anchor_at) // _MICROSECOND
    return max(0.0, (due_at_us - elapsed_us) / 1_000_000)


@dataclass(frozen=True)
class ClockReading:
    """A session's clock as of one instant: its effective status and last revealed bar."""

    status: str
    current_ts: datetime | None
    # True when the reading crossed into COMPLETED and the row does not say so yet.
    just_completed: bool = False
    due: int = 0  # bars the wall clock revealed since the anchor


async def db_now(s: AsyncSession) -> datetime:
    """The database's wall clock: one clock for every replica (not the transaction start)."""
    now: datetime = (await s.execute(select(func.clock_timestamp()))).scalar_one()
    return now


async def read(s: AsyncSession, sess: TradingSession, now: datetime) -> ClockReading:
    """The clock at `now` without writing anything (the row is left untouched)."""
    if sess.session_status != SessionStatus.RUNNING or sess.anchor_at is None:
        return ClockReading(sess.session_status, sess.current_ts)
    assert sess.current_ts is not None  # a RUNNING session has started (CHECK constraint)
    due = bars_due(sess.anchor_at, now, sess.speed)
    if due == 0:
        return ClockReading(sess.session_status, sess.current_ts)
    target, last = await bars.nth_bar_after(s, sess, sess.current_ts, due)
    if last:
        return ClockReading(SessionStatus.COMPLETED, target, just_completed=True, due=due)
    return ClockReading(sess.session_status, target, due=due)


def reading_of(
    status: str,
    current_ts: datetime | None,
    due: int,
    found: int | None,
    last_ts: datetime | None,
    more: bool | None,
) -> ClockReading:
    """`read`, from what `sessions.repository.read_clocked` computed in its one statement:
    `due` bars since the anchor; of those, `found` exist up to the range's end, the last at
    `last_ts`; `more`: a bar follows it (pure)."""
    if status != SessionStatus.RUNNING or due <= 0:
        return ClockReading(status, current_ts)
    if found is None or found < due:  # fewer bars left than due: the last one completes it
        moved = last_ts is not None and current_ts is not None and last_ts > current_ts
        target = last_ts if moved else current_ts
        return ClockReading(SessionStatus.COMPLETED, target, just_completed=True, due=due)
    if not more:
        return ClockReading(SessionStatus.COMPLETED, last_ts, just_completed=True, due=due)
    return ClockReading(status, last_ts, due=due)


def event_due(next_event_ts: datetime | None, timeframe: str, reading: ClockReading) -> bool:
    """Whether the bars this reading reveals reach the session's next possible event."""
    if next_event_ts is None or reading.current_ts is None:
        return False
    return next_event_ts < reading.current_ts + Timeframe(timeframe).delta


def needs_settling(next_event_ts: datetime | None, timeframe: str, reading: ClockReading) -> bool:
    """A reading a read cannot show as is: the clock reached the session's end, or a bar on
    which something may fill (`settle` must then process it under the row lock)."""
    return reading.just_completed or event_due(next_event_ts, timeframe, reading)


async def settle(s: AsyncSession, sessions: list[TradingSession]) -> list[ClockReading]:
    """The sessions' clocks as of now, every fill they revealed processed.

    A RUNNING row is read again after the database clock was taken: a writer that committed
    before that re-read (a pause, say) is seen, and one that commits later anchors after
    `now`, so a read never shows a bar the writer's state has not revealed. Rows that are not
    RUNNING need no clock. A row whose clock passed its `next_event_ts` or reached its end is
    locked (`FOR UPDATE`, in id order), re-read and materialized: the engine processes the
    revealed bars once, whoever reads first; a racing writer is never lost.
    """
    running = [x for x in sessions if x.session_status == SessionStatus.RUNNING]
    if not running:
        return [ClockReading(x.session_status, x.current_ts) for x in sessions]
    now = await db_now(s)
    await sessions_repo.reload(s, running)
    readings = [await read(s, x, now) for x in sessions]
    due = [
        x
        for x, r in zip(sessions, readings, strict=True)
        if needs_settling(x.next_event_ts, x.timeframe, r)
    ]
    if not due:
        return readings
    await sessions_repo.lock_for_update(s, due)
    locked_now = await db_now(s)
    for x in due:
        await materialize(s, x, locked_now)
    done = {x.id for x in due}
    return [
        ClockReading(x.session_status, x.current_ts) if x.id in done else r
        for x, r in zip(sessions, readings, strict=True)
    ]


async def advance_to(
    s: AsyncSession,
    sess: TradingSession,
    target: datetime,
    *,
    last: bool,
    now: datetime,
    anchor: datetime | None = None,
    processed: bool = False,
) -> None:
    """Move the clock of a locked session from its `current_ts` to `target` and persist it.

    Every base bar in the bars (current_ts, target] is processed here by the engine, in
    order (unless the caller already did: `processed`); reaching the session's last bar
    completes it. A RUNNING clock is re-anchored at `anchor` (default `now`).
    """
    if not processed and sess.current_ts is not None and target > sess.current_ts:
        await engine.process(s, sess, target)
    sess.current_ts = target
    if last:
        await finish(s, sess, now)
        return
    if sess.session_status == SessionStatus.RUNNING:
        sess.anchor_at = anchor or now
    sess.updated_at = now
    await s.flush()


async def finish(s: AsyncSession, sess: TradingSession, now: datetime) -> None:
    """Complete a locked session on its current bar: the end of its range or data, or `stop`.

    The one place a replay ends: open positions close at the current bar's close
    (SESSION_END) and pending orders are cancelled.
    """
    sess.session_status = SessionStatus.COMPLETED
    sess.anchor_at = None
    sess.updated_at = now
    await engine.end_session(s, sess)
    await s.flush()


async def pause(s: AsyncSession, sess: TradingSession, now: datetime) -> None:
    """Freeze a locked, materialized RUNNING clock on the bar it has revealed."""
    sess.session_status = SessionStatus.PAUSED
    sess.anchor_at = None
    sess.updated_at = now
    await s.flush()


async def resume(s: AsyncSession, sess: TradingSession, now: datetime) -> None:
    """Let a locked PAUSED clock run again, counting from `now`."""
    sess.session_status = SessionStatus.RUNNING
    sess.anchor_at = now
    sess.updated_at = now
    await s.flush()


async def set_speed(s: AsyncSession, sess: TradingSession, speed: str, now: datetime) -> None:
    """Change the speed of a locked, materialized session: what was revealed stays revealed,
    and a RUNNING clock counts on from `now` at the new speed."""
    sess.speed = speed
    if sess.session_status == SessionStatus.RUNNING:
        sess.anchor_at = now
    sess.updated_at = now
    await s.flush()


async def materialize(s: AsyncSession, sess: TradingSession, now: datetime) -> None:
    """Persist what a locked RUNNING session has revealed by `now` (no-op otherwise)."""
    reading = await read(s, sess, now)
    if reading.current_ts is not None and (
        reading.just_completed or reading.current_ts != sess.current_ts
    ):
        # Re-anchor at the instant the last of those bars was due, not at `now`: reading
        # (and so settling) never slows the clock down.
        anchor = None
        if sess.anchor_at is not None and reading.due > 0:
            rate = BARS_PER_SECOND[sess.speed]
            anchor = sess.anchor_at + timedelta(
                microseconds=math.ceil(Fraction(reading.due) / rate * 1_000_000)
            )
        await advance_to(
            s, sess, reading.current_ts, last=reading.just_completed, now=now, anchor=anchor
        )


async def start(s: AsyncSession, sess: TradingSession, first: datetime, now: datetime) -> None:
    """Put a locked DRAFT session on its first bar and set its clock running."""
    sess.session_status = SessionStatus.RUNNING
    sess.current_ts = first
    sess.anchor_at = now
    # The ledger opens with the deposit of the initial balance (SPEC 8).
    ledger_repo.post(s, sess, TransactionType.DEPOSIT, sess.initial_balance, replay_ts=first)
    last = not await bars.has_bar_after(s, sess, first)
    await advance_to(s, sess, first, last=last, now=now)


async def step(s: AsyncSession, sess: TradingSession, n: int, now: datetime) -> None:
    """Reveal `n` more bars of a locked, materialized RUNNING or PAUSED session."""
    assert sess.current_ts is not None
    target, last = await bars.nth_bar_after(s, sess, sess.current_ts, n)
    await advance_to(s, sess, target, last=last, now=now)


async def step_until_fill(s: AsyncSession, sess: TradingSession, now: datetime) -> None:
    """Reveal bars of a locked, materialized RUNNING or PAUSED session up to the bar on which
    something next fills (the engine stops there, with that bar processed), or to the
    session's last bar when nothing does (it then completes), like a replay's auto-pause.
    The status is otherwise kept."""
    assert sess.current_ts is not None
    end = await bars.last_bar(s, sess)
    if end is None or end <= sess.current_ts:  # already on the last bar
        await advance_to(s, sess, sess.current_ts, last=True, now=now)
        return
    fill = await engine.process(s, sess, end, stop_at_fill=True)
    if fill is None or fill >= end:
        await advance_to(s, sess, end, last=True, now=now, processed=True)
        return
    target = max(fill, sess.current_ts)
    last = not await bars.has_bar_after(s, sess, target)
    await advance_to(s, sess, target, last=last, now=now, processed=True)


async def seek(s: AsyncSession, sess: TradingSession, ts: datetime, now: datetime) -> None:
    """Reveal every bar up to the last one at or before `ts` (forward only; checked by caller)."""
    assert sess.current_ts is not None
    found = await bars.last_bar_at_or_before(s, sess, ts)
    target = found if found is not None and found > sess.current_ts else sess.current_ts
    last = not await bars.has_bar_after(s, sess, target)
    await advance_to(s, sess, target, last=last, now=now)


async def recheck_end(s: AsyncSession, sess: TradingSession, now: datetime) -> None:
    """After `end_ts` moved: a started session already on its last bar completes."""
    if sess.session_status in (SessionStatus.RUNNING, SessionStatus.PAUSED):
        assert sess.current_ts is not None
        if not await bars.has_bar_after(s, sess, sess.current_ts):
            await advance_to(s, sess, sess.current_ts, last=True, now=now)
