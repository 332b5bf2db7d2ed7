"""The bars a session's clock walks over: its instrument's candles at its timeframe, never
past its `end_ts`. The one seam between the replay clock and the candle store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..candles import repository as candles_repo
from ..candles.schemas import Bar
from ..sessions.models import TradingSession
from ..timeframes import Timeframe

__all__ = [
    "Bar",
    "first_bar",
    "has_bar_after",
    "last_bar",
    "last_bar_at_or_before",
    "nth_bar_after",
    "revealed_between",
    "visible_window_json",
]

_TICK = timedelta(microseconds=1)


def _tf(sess: TradingSession) -> Timeframe:
    return Timeframe(sess.timeframe)


async def first_bar(s: AsyncSession, sess: TradingSession) -> datetime | None:
    """Open time of the first bar at or after `start_ts` (and not after `end_ts`)."""
    return await candles_repo.first_bar_at_or_after(
        s, sess.instrument_id, _tf(sess), sess.start_ts, until_ts=sess.end_ts
    )


async def has_bar_after(s: AsyncSession, sess: TradingSession, ts: datetime) -> bool:
    """Whether the range holds a bar after `ts`; False means `ts` is the session's last bar."""
    nxt = await candles_repo.first_bar_at_or_after(
        s, sess.instrument_id, _tf(sess), ts + _TICK, until_ts=sess.end_ts
    )
    return nxt is not None


async def nth_bar_after(
    s: AsyncSession, sess: TradingSession, ts: datetime, n: int
) -> tuple[datetime, bool]:
    """The bar `n` bars after `ts` (or the last one, when fewer remain) and whether it is the
    session's last bar."""
    if n <= 0:
        return ts, not await has_bar_after(s, sess, ts)
    bar, fewer = await candles_repo.nth_bar_after(
        s, sess.instrument_id, _tf(sess), ts, n, until_ts=sess.end_ts
    )
    target = bar if bar is not None and bar > ts else ts
    if fewer:  # fewer than n bars were left: `target` is the last one
        return target, True
    return target, not await has_bar_after(s, sess, target)


async def last_bar_at_or_before(
    s: AsyncSession, sess: TradingSession, ts: datetime
) -> datetime | None:
    """Open time of the last bar at or before `ts`, never past `end_ts`."""
    limit = ts if sess.end_ts is None else min(ts, sess.end_ts)
    return await candles_repo.last_bar_at_or_before(s, sess.instrument_id, _tf(sess), limit)


async def visible_window_json(
    read: Any,
    sess: Mapping[str, Any],
    *,
    until_ts: datetime,
    limit: int,
    before: datetime | None,
) -> str:
    """At most `limit` bars of a session (its row's values) with open time <= `until_ts`
    (and < `before`), oldest first, as a JSON array (`candles.latest_window_json`, on a
    `Database.reader()` connection)."""
    tf = Timeframe(sess["timeframe"])
    return await candles_repo.latest_window_json(
        read, sess["instrument_id"], tf, until_ts=until_ts, limit=limit, before=before
    )


async def last_bar(s: AsyncSession, sess: TradingSession) -> datetime | None:
    """Open time of the session's last bar: the last one at or before `end_ts`, or the
    data's last bar when the session has no `end_ts`."""
    if sess.end_ts is not None:
        return await candles_repo.last_bar_at_or_before(
            s, sess.instrument_id, _tf(sess), sess.end_ts
        )
    return await candles_repo.last_bar(s, sess.instrument_id, _tf(sess))


async def revealed_between(
    s: AsyncSession, sess: TradingSession, after: datetime, until: datetime, *, limit: int
) -> list[Bar]:
    """The first `limit` bars with `after` < open time <= `until`, oldest first (the caller
    passes the clock's current_ts as `until`: the stream never sees a bar after it)."""
    found = await candles_repo.bars_between(
        s, sess.instrument_id, _tf(sess), after, until, limit=limit
    )
    return [b for b in found if b.ts <= until]  # defence in depth: nothing past `until`
