"""Candle queries. Every read is a range scan on the primary key (instrument, timeframe, ts).

Interface used by the replay (sessions/replay packages): all functions take the request's
AsyncSession first, timestamps are timezone-aware UTC datetimes, results are ordered by ts.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ..timeframes import EPOCH_MONDAY, Timeframe, aggregation_sources
from .bulk import COPY_HEADER, COPY_TRAILER
from .schemas import Bar

__all__ = [
    "Bar",
    "bar_close",
    "bars_before",
    "bars_between",
    "base_bars_between",
    "count_bars_between",
    "first_bar_at_or_after",
    "first_crossing",
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


# `latest_bars` as the response's JSON array, built by PostgreSQL on a `Database.reader()`
# connection (Python neither decodes 3,000 NUMERICs nor encodes them again), by plain
# concatenation (json_build_object and to_char cost twice as much): oldest first, `ts` in
# ISO 8601 UTC with `Z` and microseconds only when there are any, as `iso_z` writes (the
# reader's session has TimeZone UTC and DateStyle ISO), prices as the exact decimals stored,
# trailing zeros trimmed (JSON numbers; NUMERIC never prints an exponent, NaN is refused on
# import).
_LATEST_WINDOW_JSON = """
SELECT '[' || coalesce(string_agg(
    '{"ts":"' || replace((ts AT TIME ZONE 'UTC')::text, ' ', 'T')
    || 'Z","open":' || trim_scale(open) || ',"high":' || trim_scale(high)
    || ',"low":' || trim_scale(low) || ',"close":' || trim_scale(close)
    || ',"volume":' || trim_scale(volume) || '}', ',' ORDER BY ts), '') || ']'
FROM (
    SELECT ts, open, high, low, close, volume FROM candles
    WHERE instrument_id = $1 AND timeframe = $2 AND ts <= $3 AND ts < $4
    ORDER BY ts DESC LIMIT $5
) q
"""


async def latest_window_json(
    read: Any,
    instrument_id: int,
    tf: Timeframe,
    *,
    until_ts: datetime,
    limit: int,
    before: datetime | None = None,
) -> str:
    """`latest_bars` (the `limit` most recent bars with ts <= until_ts and ts < before) as
    a JSON array of candle objects, oldest first, read on an asyncpg connection (`read`)."""
    text_: str = await read.fetchval(
        _LATEST_WINDOW_JSON,
        instrument_id,
        tf.value,
        _aware(until_ts, "until_ts"),
        _aware(before, "before") if before is not None else FAR_FUTURE,
        limit,
    )
    return text_


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


async def bar_close(
    s: AsyncSession, instrument_id: int, tf: Timeframe, ts: datetime
) -> Decimal | None:
    """The close of the bar at `tf` opening at `ts`, or None."""
    value: Decimal | None = (
        await s.execute(
            text(
                "SELECT close FROM candles WHERE instrument_id = :iid AND timeframe = :tf "
                "AND ts = :ts"
            ),
            {"iid": instrument_id, "tf": tf.value, "ts": _aware(ts)},
        )
    ).scalar_one_or_none()
    return value


_FIRST_CROSSING = text(
    "SELECT ts, open, high, low FROM candles "
    "WHERE instrument_id = :iid AND timeframe = :tf AND ts >= :start AND ts < :end AND ("
    " high >= CAST(:hi AS numeric) OR low <= CAST(:lo AS numeric)"
    " OR 2 * (CAST(:a AS numeric) + CAST(:n AS numeric)"
    " * CASE WHEN CAST(:n AS numeric) >= 0 THEN low ELSE high END) < CAST(:used AS numeric)"
    ") ORDER BY ts LIMIT 1"
)

# Coarser stored timeframes the search may skip through, each dividing the next.
_SKIP_LEVELS = (Timeframe.H1, Timeframe.D1)

Crossing = tuple[datetime, Decimal, Decimal, Decimal]


def _ceil(tf: Timeframe, ts: datetime) -> datetime:
    floor = tf.floor(ts)
    return floor if floor == ts else floor + tf.delta


async def first_crossing(
    s: AsyncSession,
    instrument_id: int,
    tf: Timeframe,
    start: datetime,
    end: datetime,
    *,
    high_at: Decimal | None,
    low_at: Decimal | None,
    stop_out: tuple[Decimal, Decimal, Decimal] | None,
) -> Crossing | None:
    """The first base bar (`tf`) in [start, end) with high >= high_at, or low <= low_at, or
    whose worst price for a net exposure crosses the stop-out line `(a, n, used)`: 2(a + n x)
    < used with x = low when n >= 0, else high. Exact (numeric). Returns (ts, open, high, low).

    Every condition is monotone in a bar's high or low, and an aggregated bar's high (low) is
    the max (min) of its base bars', so a D1 or H1 bucket crosses iff one of its base bars
    does: the search skips through the stored aggregates (D1, then H1, then the base bars of
    the one bucket that crosses), a few small range scans however long the range."""
    a, n, used = stop_out if stop_out is not None else (None, None, None)
    params = {"iid": instrument_id, "hi": high_at, "lo": low_at, "a": a, "n": n, "used": used}
    levels = [tf, *(x for x in _SKIP_LEVELS if x.seconds > tf.seconds)]

    async def scan(level: Timeframe, lo: datetime, hi: datetime) -> Crossing | None:
        row = (
            await s.execute(
                _FIRST_CROSSING,
                {**params, "tf": level.value, "start": lo, "end": hi},
            )
        ).first()
        return None if row is None else (row[0], row[1], row[2], row[3])

    async def search(i: int, lo: datetime, hi: datetime) -> Crossing | None:
        if lo >= hi:
            return None
        if i == 0:
            return await scan(levels[0], lo, hi)
        level = levels[i]
        first, last = _ceil(level, lo), level.floor(hi)
        if first >= last:  # no whole bucket inside: a finer level does it
            return await search(i - 1, lo, hi)
        found = await search(i - 1, lo, first)  # the part before the first whole bucket
        if found is not None:
            return found
        cursor = first
        while cursor < last:
            bucket = await scan(level, cursor, last)
            if bucket is None:
                break
            found = await search(i - 1, bucket[0], bucket[0] + level.delta)
            if found is not None:
                return found
            cursor = bucket[0] + level.delta  # an aggregate out of step with its bars
        return await search(i - 1, last, hi)

    return await search(len(levels) - 1, _aware(start, "start"), _aware(end, "end"))


# --- Writes: bulk import and aggregation (used by candles.service and the demo seeder) ---

_COPY_COLUMNS = ["instrument_id", "timeframe", "ts", "open", "high", "low", "close", "volume"]


async def _driver_connection(s: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside the session's open transaction."""
    conn = await s.connection()
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    if driver is None or not driver.is_in_transaction():
        # SQLAlchemy begins lazily; COPY outside the transaction would commit on its own.
        raise RuntimeError("COPY needs the session's transaction to have begun")
    return driver


async def has_bars_between(
    s: AsyncSession, instrument_id: int, tf: Timeframe, lo: datetime, hi: datetime
) -> bool:
    """Whether any bar at `tf` exists with lo <= ts < hi."""
    value = (
        await s.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM candles WHERE instrument_id = :iid "
                "AND timeframe = :tf AND ts >= :lo AND ts < :hi)"
            ),
            {"iid": instrument_id, "tf": tf.value, "lo": lo, "hi": hi},
        )
    ).scalar_one()
    return bool(value)


async def has_any_bars(s: AsyncSession, instrument_id: int) -> bool:
    value = (
        await s.execute(
            text("SELECT EXISTS (SELECT 1 FROM candles WHERE instrument_id = :iid)"),
            {"iid": instrument_id},
        )
    ).scalar_one()
    return bool(value)


async def _copy_binary(
    s: AsyncSession, table: str, chunks: Iterable[bytes] | AsyncIterable[bytes]
) -> None:
    driver = await _driver_connection(s)

    async def source() -> AsyncIterator[bytes]:
        yield COPY_HEADER
        # Encoded while the server stores the previous one; an exception raised by `chunks`
        # aborts the COPY (CopyFail) and is raised again here.
        if isinstance(chunks, AsyncIterable):
            async for chunk in chunks:
                yield chunk
        else:
            for chunk in chunks:
                yield chunk
        yield COPY_TRAILER

    await driver.copy_to_table(
        table, source=source(), columns=_COPY_COLUMNS, format="binary", timeout=None
    )


async def copy_bars(s: AsyncSession, chunks: Iterable[bytes] | AsyncIterable[bytes]) -> None:
    """Binary COPY rows (all of _COPY_COLUMNS, see bulk.copy_rows) straight into candles:
    none of them may exist yet."""
    await _copy_binary(s, "candles", chunks)


async def upsert_bars(s: AsyncSession, chunks: Iterable[bytes]) -> tuple[int, int]:
    """Binary COPY rows into a scratch table, then insert-or-update them.

    Returns (inserted, updated): bars that were new, and bars that already existed (whose
    values were replaced where they differed).
    """
    await s.execute(
        text(
            "CREATE TEMPORARY TABLE candle_import (LIKE candles INCLUDING DEFAULTS) ON COMMIT DROP"
        )
    )
    await _copy_binary(s, "candle_import", chunks)
    inserted = (
        await s.execute(
            text(
                "WITH up AS ("
                " INSERT INTO candles SELECT * FROM candle_import"
                " ON CONFLICT (instrument_id, timeframe, ts) DO UPDATE SET"
                " open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,"
                " close = EXCLUDED.close, volume = EXCLUDED.volume"
                # Re-importing identical bars writes nothing (and returns nothing).
                " WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume)"
                " IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low,"
                " EXCLUDED.close, EXCLUDED.volume)"
                # xmax is 0 on a freshly inserted row version, the locker's xid on an update.
                " RETURNING (xmax = 0) AS inserted)"
                " SELECT count(*) FILTER (WHERE inserted) FROM up"
            )
        )
    ).scalar_one()
    total = (await s.execute(text("SELECT count(*) FROM candle_import"))).scalar_one()
    await s.execute(text("DROP TABLE candle_import"))
    return int(inserted), int(total) - int(inserted)


_AGGREGATE = text(
    "INSERT INTO candles (instrument_id, timeframe, ts, open, high, low, close, volume) "
    "SELECT :iid, :tf, b.bucket, (array_agg(b.open ORDER BY b.ts))[1], max(b.high), "
    # One ORDER BY for both arrays: PostgreSQL then sorts the input once, not per bucket.
    "min(b.low), (array_agg(b.close ORDER BY b.ts))[count(*)::int], sum(b.volume) "
    "FROM (SELECT date_bin(make_interval(secs => :secs), ts, :origin) AS bucket, "
    "ts, open, high, low, close, volume FROM candles "
    "WHERE instrument_id = :iid AND timeframe = :src AND ts >= :lo AND ts < :hi) b "
    "GROUP BY b.bucket "
    "ON CONFLICT (instrument_id, timeframe, ts) DO UPDATE SET "
    "open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, "
    "close = EXCLUDED.close, volume = EXCLUDED.volume "
    # An unchanged bucket is left alone: no dead row version for nothing.
    "WHERE (candles.open, candles.high, candles.low, candles.close, candles.volume) "
    "IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close, "
    "EXCLUDED.volume)"
)


async def rebuild_aggregates(
    s: AsyncSession, instrument_id: int, base: Timeframe, first_ts: datetime, last_ts: datetime
) -> None:
    """Recompute every higher timeframe's buckets touched by base bars in [first_ts, last_ts].

    Each timeframe is built from the coarsest finer one that divides it (M5 from M1, H1 from
    M30, W1 from D1...): buckets nest, so the result equals aggregating the base bars directly,
    at a fraction of the rows. Buckets start at EPOCH_MONDAY's grid: D1 at midnight, W1 Monday.
    """
    # The one sort per timeframe stays in memory (SET LOCAL: this transaction only).
    await s.execute(text("SET LOCAL work_mem = '128MB'"))
    for tf, src in aggregation_sources(base).items():
        await s.execute(
            _AGGREGATE,
            {
                "iid": instrument_id,
                "tf": tf.value,
                "src": src.value,
                "secs": tf.seconds,
                "origin": EPOCH_MONDAY,
                "lo": tf.floor(first_ts),
                "hi": tf.floor(last_ts) + tf.delta,
            },
        )


async def tag_writes(s: AsyncSession, instrument_id: int) -> None:
    """Say, for this transaction, which instrument its candle writes are for: the candles
    trigger (migration 0007) then renews that instrument's version and notifies its id,
    without keeping a copy of every written row to find out."""
    await s.execute(
        text("SELECT set_config('trading.candles_instrument', :iid, true)"),
        {"iid": str(instrument_id)},
    )


async def delete_bars(s: AsyncSession, instrument_id: int) -> None:
    await tag_writes(s, instrument_id)
    await s.execute(text("DELETE FROM candles WHERE instrument_id = :iid"), {"iid": instrument_id})


async def list_bars(
    s: AsyncSession,
    instrument_id: int,
    tf: Timeframe,
    *,
    from_ts: datetime | None,
    to_ts: datetime | None,
    limit: int,
) -> list[Bar]:
    """With `from_ts`: the first `limit` bars in [from_ts, to_ts]; without it, the last
    `limit` bars at or before to_ts. Oldest first either way."""
    if from_ts is None:
        return await latest_bars(s, instrument_id, tf, until_ts=_until(to_ts), limit=limit)
    rows = (
        await s.execute(
            text(
                "SELECT ts, open, high, low, close, volume FROM candles "
                "WHERE instrument_id = :iid AND timeframe = :tf AND ts >= :from AND ts <= :until "
                "ORDER BY ts LIMIT :limit"
            ),
            {
                "iid": instrument_id,
                "tf": tf.value,
                "from": _aware(from_ts, "from_ts"),
                "until": _until(to_ts),
                "limit": limit,
            },
        )
    ).all()
    return _bars(rows)
