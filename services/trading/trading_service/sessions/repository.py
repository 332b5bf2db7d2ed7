"""SQL for trading sessions (the only module here that builds queries)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, SQLColumnExpression, case, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..instruments.models import Instrument
from ..timeframes import Timeframe
from .models import SessionStatus, Speed, TradingSession

T = TradingSession

SortField = Literal[
    "created_at",
    "updated_at",
    "start_ts",
    "end_ts",
    "id",
    "session_status",
    "timeframe",
    "speed",
    "instrument_id",
]
SortOrder = Literal["asc", "desc"]

_STATUS_ORDER = {s.value: i for i, s in enumerate(SessionStatus)}  # lifecycle order
_SPEED_ORDER = {s.value: i for i, s in enumerate(Speed)}  # slowest first
_TIMEFRAME_ORDER = {tf.value: tf.seconds for tf in Timeframe}  # shortest first

# The allow-list: a sort name maps to an expression built here, never to client text.
SORT_EXPRESSIONS: dict[str, SQLColumnExpression[Any]] = {
    "created_at": T.created_at,
    "updated_at": T.updated_at,
    "start_ts": T.start_ts,
    "end_ts": T.end_ts,
    "id": T.id,
    "instrument_id": T.instrument_id,
    "session_status": case(_STATUS_ORDER, value=T.session_status),
    "speed": case(_SPEED_ORDER, value=T.speed),
    "timeframe": case(_TIMEFRAME_ORDER, value=T.timeframe),
}

MAX_SESSION_ID = 2**31 - 1  # the id column is INTEGER


@dataclass(frozen=True)
class ListFilter:
    user_id: int | None  # None: every user's (admin)
    created_from: datetime | None  # inclusive
    created_to: datetime | None
    created_to_inclusive: bool


async def get(s: AsyncSession, session_id: int, *, for_update: bool = False) -> T | None:
    if not 1 <= session_id <= MAX_SESSION_ID:
        return None
    stmt = select(T).where(T.id == session_id)
    if for_update:
        # Transitions serialize on the row; populate_existing refreshes an already-loaded row.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await s.execute(stmt)).scalar_one_or_none()


# Every column of the row, in the model's order (the fast read below returns them by name).
COLUMNS: tuple[str, ...] = tuple(c.key for c in T.__table__.columns)

# The row and its RUNNING clock in one statement: the database clock (`now_`), the bars due
# since the anchor (`due`, exactly `clock.bars_due`: the interval is whole microseconds and
# numeric arithmetic is exact), and `candles.nth_bar_after`'s lookup of the due-th bar after
# `current_ts` (`found`, `last_ts`) and whether a bar follows it (`more`), all over the
# instrument's bars at the session's timeframe up to `end_ts`. `clock.reading_of` turns
# those five into a reading. And the instrument's `candles_version` and the
# `candles_generation` (migration 0007), which say whether a candle window cached
# earlier is still what the table holds. One round
# trip, no transaction: the statement is one snapshot.
_READ_CLOCKED = """
SELECT {columns}, c.now_, d.due, n.found, n.last_ts, m.more,
       coalesce(v.version, 0) AS candles_version,
       coalesce((SELECT version FROM candles_generation), 0) AS candles_generation
FROM trading_sessions s
LEFT JOIN candle_versions v ON v.instrument_id = s.instrument_id
CROSS JOIN LATERAL (SELECT clock_timestamp() AS now_) c
CROSS JOIN LATERAL (
    SELECT CASE WHEN s.session_status = 'RUNNING' AND c.now_ > s.anchor_at
        THEN floor(extract(epoch FROM c.now_ - s.anchor_at)
                   * rtrim(s.speed, 'x')::numeric)::bigint
        ELSE 0 END AS due
) d
LEFT JOIN LATERAL (
    SELECT count(*) AS found, max(q.ts) AS last_ts FROM (
        SELECT ts FROM candles
        WHERE instrument_id = s.instrument_id AND timeframe = s.timeframe
          AND ts > s.current_ts AND ts <= coalesce(s.end_ts, 'infinity')
        ORDER BY ts LIMIT d.due
    ) q
) n ON d.due > 0
LEFT JOIN LATERAL (
    SELECT EXISTS (
        SELECT 1 FROM candles
        WHERE instrument_id = s.instrument_id AND timeframe = s.timeframe
          AND ts > n.last_ts AND ts <= coalesce(s.end_ts, 'infinity')
    ) AS more
) m ON n.found = d.due
WHERE s.id = $1
""".format(columns=", ".join(f"s.{c}" for c in COLUMNS))  # noqa: S608 (model names)


async def read_clocked(conn: Any, session_id: int) -> Any:
    """The session's row with its clock's inputs as of now (an asyncpg Record, or None), read
    on a `Database.reader()` connection: no ORM, no transaction, one round trip."""
    if not 1 <= session_id <= MAX_SESSION_ID:
        return None
    return await conn.fetchrow(_READ_CLOCKED, session_id)


async def reload(s: AsyncSession, sessions: Sequence[T]) -> None:
    """Read rows already loaded again (a fresh snapshot), refreshing the loaded objects."""
    ids = [x.id for x in sessions]
    if ids:
        stmt = select(T).where(T.id.in_(ids)).execution_options(populate_existing=True)
        await s.execute(stmt)


async def lock_for_update(s: AsyncSession, sessions: Sequence[T]) -> None:
    """Lock rows already read (in id order, so two lockers never deadlock) and refresh them."""
    ids = sorted(x.id for x in sessions)
    if ids:
        stmt = (
            select(T)
            .where(T.id.in_(ids))
            .order_by(T.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        await s.execute(stmt)


async def instrument_for_session(s: AsyncSession, instrument_id: int) -> Instrument | None:
    """The instrument, key-share locked so it cannot be deleted before this transaction ends."""
    stmt = select(Instrument).where(Instrument.id == instrument_id).with_for_update(key_share=True)
    return (await s.execute(stmt)).scalar_one_or_none()


async def add(s: AsyncSession, sess: T) -> T:
    s.add(sess)
    await s.flush()
    return sess


async def remove(s: AsyncSession, sess: T) -> None:
    await s.execute(delete(T).where(T.id == sess.id))
    s.expunge(sess)


def _conditions(f: ListFilter) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = []
    if f.user_id is not None:
        cond.append(T.user_id == f.user_id)
    if f.created_from is not None:
        cond.append(T.created_at >= f.created_from)
    if f.created_to is not None:
        cond.append(
            T.created_at <= f.created_to if f.created_to_inclusive else T.created_at < f.created_to
        )
    return cond


async def list_page(
    s: AsyncSession,
    f: ListFilter,
    *,
    sort: str,
    order: SortOrder,
    offset: int,
    limit: int,
) -> tuple[list[T], int]:
    """One page and the total; the id breaks ties so pages never skip or repeat a row."""
    cond = _conditions(f)
    total = (await s.execute(select(func.count()).select_from(T).where(*cond))).scalar_one()
    key = SORT_EXPRESSIONS[sort]
    if order == "asc":
        ordering = [key.asc().nulls_last(), T.id.asc()]
    else:
        ordering = [key.desc().nulls_last(), T.id.desc()]
    stmt = select(T).where(*cond).order_by(*ordering).offset(offset).limit(limit)
    rows = list((await s.execute(stmt)).scalars())
    return rows, total


async def recheck_events(s: AsyncSession, instrument_id: int, since: datetime) -> None:
    """Started sessions of an instrument whose bars from `since` on changed: their next
    possible event is no later than `since` (rows locked in id order: no deadlock)."""
    ids = list(
        (
            await s.execute(
                select(T.id)
                .where(T.instrument_id == instrument_id, T.next_event_ts > since)
                .order_by(T.id)
                .with_for_update()
            )
        ).scalars()
    )
    if ids:
        await s.execute(
            update(T)
            .where(T.id.in_(ids))
            .values(next_event_ts=since)
            .execution_options(synchronize_session=False)
        )
