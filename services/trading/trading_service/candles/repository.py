"""Candle queries. Every read is a range scan on the primary key (instrument, timeframe, ts).

Interface used by the replay (sessions/replay packages): all functions take the request's
AsyncSession first, timestamps are timezone-aware UTC datetimes, results are ordered by ts.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..timeframes import Timeframe
from .schemas import Bar

__all__ = [
    "Bar",
    "bars_before",
    "bars_between",
    "base_bars_between",
    "count_bars_between",
    "first_bar_at_or_after",
    "last_bar",
    "last_bar_at_or_before",
    "latest_bars",
    "nth_bar_after",
]

# Stands in for "no upper bound", so every query keeps one fixed text (one prepared statement).
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=UTC)


def _aware(ts: datetime, name: str = "ts") -> datetime:
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return ts


def _until(until_ts: datetime | None) -> datetime:
    return FAR_FUTURE if until_ts is None else _aware(until_ts, "until_ts")


def _bars(rows: Iterable[Any]) -> list[Bar]:
    return [Bar(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]


async def latest_bars(
    s: AsyncSession,
    instrument_id: int,
    tf: Timeframe,
    *,
    until_ts: datetime,
    limit: int,
    before: datetime | None = None,
) -> list[Bar]:
    """The `limit` most recent bars with ts <= until_ts (and ts < before), oldest first."""
    rows = (
        await s.execute(
            text(
                "SELECT ts, open, high, low, close, volume FROM candles "
                "WHERE instrument_id = :iid AND timeframe = :tf AND ts <= :until AND ts < :before "
                "ORDER BY ts DESC LIMIT :limit"
            ),
            {
                "iid": instrument_id,
                "tf": tf.value,
                "until": _aware(until_ts, "until_ts"),
                "before": _aware(before, "before") if before is not None else FAR_FUTURE,
                "limit": limit,
            },
        )
    ).all()
    return _bars(rows[::-1])


async def bars_before(
    s: AsyncSession, instrument_id: int, tf: Timeframe, *, before_ts: datetime, limit: int
) -> list[Bar]:
    """The `limit` most recent bars with ts < before_ts, oldest first."""
    rows = (
        await s.execute(
            text(
                "SELECT ts, open, high, low, close, volume FROM candles "
                "WHERE instrument_id = :iid AND timeframe = :tf AND ts < :before "
                "ORDER BY ts DESC LIMIT :limit"
            ),
            {
                "iid": instrument_id,
                "tf": tf.value,
                "before": _aware(before_ts, "before_ts"),
                "limit": limit,
            },
        )
    ).all()
    return _bars(rows[::-1])


async def bars_between(
    s: AsyncSession,
    instrument_id: int,
    tf: Timeframe,
    after_ts: datetime,
    until_ts: datetime,
    *,
    limit: int | None = None,
) -> list[Bar]:
    """Bars with after_ts < ts <= until_ts, oldest first (the first `limit` of them if given)."""
    rows = (
        await s.execute(
            text(
                "SELECT ts, open, high, low, close, volume FROM candles "
                "WHERE instrument_id = :iid AND timeframe = :tf AND ts > :after AND ts <= :until "
                "ORDER BY ts LIMIT :limit"
            ),
            {
                "iid": instrument_id,
                "tf": tf.value,
                "after": _aware(after_ts, "after_ts"),
                "until": _aware(until_ts, "until_ts"),
                "limit": limit,  # NULL: no limit
            },
        )
    ).all()
    return _bars(rows)


async def first_bar_at_or_after(
    s: AsyncSession,
    instrument_id: int,
    tf: Timeframe,
    ts: datetime,
    *,
    until_ts: datetime | None = None,
) -> datetime | None:
    """Open time of the first bar with ts >= `ts` (and <= until_ts), or None."""
    value: datetime | None = (
        await s.execute(
            text(
                "SELECT ts FROM candles WHERE instrument_id = :iid AND timeframe = :tf "
                "AND ts >= :ts AND ts <= :until ORDER BY ts LIMIT 1"
            ),
            {"iid": instrument_id, "tf": tf.value, "ts": _aware(ts), "until": _until(until_ts)},
        )
    ).scalar_one_or_none()
    return value


async def last_bar_at_or_before(
    s: AsyncSession, instrument_id: int, tf: Timeframe, ts: datetime
) -> datetime | None:
    """Open time of the last bar with ts <= `ts`, or None."""
    value: datetime | None = (
        await s.execute(
            text(
                "SELECT ts FROM candles WHERE instrument_id = :iid AND timeframe = :tf "
                "AND ts <= :ts ORDER BY ts DESC LIMIT 1"
            ),
            {"iid": instrument_id, "tf": tf.value, "ts": _aware(ts)},
        )
    ).scalar_one_or_none()
    return value


async def last_bar(s: AsyncSession, instrument_id: int, tf: Timeframe) -> datetime | None:
    """Open time of the instrument's last bar at `tf` (the data's end), or None."""
    value: datetime | None = (
        await s.execute(
            text(
                "SELECT ts FROM candles WHERE instrument_id = :iid AND timeframe = :tf "
                "ORDER BY ts DESC LIMIT 1"
            ),
            {"iid": instrument_id, "tf": tf.value},
        )
    ).scalar_one_or_none()
    return value


async def nth_bar_after(
    s: AsyncSession,
    instrument_id: int,
    tf: Timeframe,
    ts: datetime,
    n: int,
    *,
    until_ts: datetime | None = None,
) -> tuple[datetime | None, bool]:
    """Open time of the n-th bar strictly after `ts` (n >= 1), not beyond until_ts.

    When fewer than n such bars exist: the last one that does (None if none) and True
    ("end reached"); otherwise the n-th bar's open time and False.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    # count/max over at most n index entries: no rows are shipped to Python.
    row = (
        await s.execute(
            text(
                "SELECT count(*), max(ts) FROM (SELECT ts FROM candles "
                "WHERE instrument_id = :iid AND timeframe = :tf AND ts > :ts AND ts <= :until "
                "ORDER BY ts LIMIT :n) q"
            ),
            {
                "iid": instrument_id,
                "tf": tf.value,
                "ts": _aware(ts),
                "until": _until(until_ts),
                "n": n,
            },
        )
    ).one()
    found, last = int(row[0]), row[1]
    return last, found < n


async def count_bars_between(
    s: AsyncSession, instrument_id: int, tf: Timeframe, after_ts: datetime, until_ts: datetime
) -> int:
    """How many bars have after_ts < ts <= until_ts."""
    value = (
        await s.execute(
            text(
                "SELECT count(*) FROM candles WHERE instrument_id = :iid AND timeframe = :tf "
                "AND ts > :after AND ts <= :until"
            ),
            {
                "iid": instrument_id,
                "tf": tf.value,
                "after": _aware(after_ts, "after_ts"),
                "until": _aware(until_ts, "until_ts"),
            },
        )
    ).scalar_one()
    return int(value)


async def base_bars_between(
    s: AsyncSession, instrument_id: int, start_ts: datetime, end_ts: datetime
) -> list[Bar]:
    """The stored base-timeframe bars with start_ts <= ts < end_ts (for intrabar resolution)."""
    rows = (
        await s.execute(
            text(
                "SELECT ts, open, high, low, close, volume FROM candles WHERE instrument_id = :iid "
                "AND timeframe = (SELECT base_timeframe FROM instruments WHERE id = :iid) "
                "AND ts >= :start AND ts < :end ORDER BY ts"
            ),
            {
                "iid": instrument_id,
                "start": _aware(start_ts, "start_ts"),
                "end": _aware(end_ts, "end_ts"),
            },
        )
    ).all()
    return _bars(rows)
