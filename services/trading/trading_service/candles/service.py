"""Candle import (validate everything, then one bulk write) and raw reads."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from servicekit.errors import Conflict, NotFound, Unprocessable

from ..instruments import repository as instruments_repo
from ..instruments.models import Instrument
from ..sessions import repository as sessions_repo
from ..timeframes import Timeframe, available_timeframes
from . import bulk
from . import repository as repo
from .bulk import Bars
from .exceptions import UnsupportedMediaType
from .importer import CsvStream, ParsedCandles, parse_csv, parse_json, stream_csv
from .schemas import Bar, ImportResult

log = logging.getLogger(__name__)

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
JSON_TYPES = frozenset({"application/json"})


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def import_candles(
    s: AsyncSession, instrument_id: int, body: bytes | bytearray, content_type: str | None
) -> ImportResult:
    """Validate the whole file, then store it (a plain CSV into an instrument with no bars:
    while reading it, in a savepoint abandoned at the first odd line); a file with any bad row
    stores nothing."""
    kind = media_type(content_type)
    if kind in CSV_TYPES:
        parser = parse_csv
    elif kind in JSON_TYPES:
        parser = parse_json
    else:
        raise UnsupportedMediaType("Send text/csv or application/json")
    instrument = await instruments_repo.get(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    tf = instrument.timeframe
    started = time.perf_counter()
    stream = await run_in_threadpool(stream_csv, body, tf) if parser is parse_csv else None
    result = None
    if stream is not None and not await repo.has_any_bars(s, instrument_id):
        result = await _store_while_reading(s, instrument_id, tf, stream, body)
    if result is None:
        # Parsing a large file takes seconds of CPU: keep the event loop serving meanwhile.
        if stream is not None:
            parsed = await run_in_threadpool(stream.finish)
        else:
            parsed = await run_in_threadpool(parser, body, tf)
        if isinstance(body, bytearray):
            body.clear()  # the request's buffer is spent: its memory goes before the COPY's
        if parsed.errors:
            raise Unprocessable(
                "The file has invalid rows; nothing was stored", details=parsed.errors
            )
        parsed_at = time.perf_counter()
        result = await store(s, instrument_id, parsed, expected_tf=tf)
    else:
        parsed_at = started  # read and stored at once
    log.info(
        "candles imported",
        extra={
            "instrument_id": instrument_id,
            "rows": result.imported,
            "inserted": result.inserted,
            "updated": result.updated,
            "parse_s": round(parsed_at - started, 3),
            "store_s": round(time.perf_counter() - parsed_at, 3),
        },
    )
    return result


async def _lock_for_import(s: AsyncSession, instrument_id: int, tf: Timeframe) -> Instrument:
    """The instrument locked until commit (imports of one instrument run one after another),
    still at the base timeframe the file was read for, and the transaction's candle writes
    tagged with it (the candles trigger renews its version, migration 0007)."""
    instrument = await instruments_repo.get_locked(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    if instrument.base_timeframe != tf.value:
        raise Conflict("The instrument's base timeframe changed during the import; retry")
    await repo.tag_writes(s, instrument_id)
    return instrument


async def store(
    s: AsyncSession, instrument_id: int, parsed: ParsedCandles, *, expected_tf: Timeframe
) -> ImportResult:
    """The bulk path: binary COPY of the bars and of every timeframe's buckets built from them.

    The instrument row stays locked until commit, so imports of one instrument (and edits of
    its base timeframe) run one after another and the aggregates never see a half import.
    """
    bars, first_ts, last_ts = parsed.bars, parsed.first_ts, parsed.last_ts
    assert bars is not None and first_ts is not None and last_ts is not None
    await _lock_for_import(s, instrument_id, expected_tf)
    tf = expected_tf
    # Every bucket the file touches lies within the coarsest timeframe's buckets.
    top = max(available_timeframes(tf), key=lambda t: t.seconds)
    lo, hi = top.floor(first_ts), top.floor(last_ts) + top.delta
    shares_buckets = await repo.has_bars_between(s, instrument_id, tf, lo, hi)
    if shares_buckets and await repo.has_bars_between(
        s, instrument_id, tf, first_ts, last_ts + tf.delta
    ):
        # A re-import: upsert the bars, then recompute the touched buckets from what is stored.
        inserted, updated = await repo.upsert_bars(s, bulk.copy_rows(instrument_id, tf, bars))
        await repo.rebuild_aggregates(s, instrument_id, tf, first_ts, last_ts)
    else:
        # New bars: they and the buckets only they fill go in one COPY (key order, so the
        # primary key grows at its right edge); a first or last bucket shared with stored
        # bars is then recomputed in SQL from both.
        await repo.copy_bars(s, _new_rows(instrument_id, tf, bars, trim=shares_buckets))
        if shares_buckets:
            await repo.rebuild_aggregates(s, instrument_id, tf, first_ts, first_ts)
            await repo.rebuild_aggregates(s, instrument_id, tf, last_ts, last_ts)
        inserted, updated = parsed.count, 0
    # Bars a started session has not processed may have changed: its planned next event
    # moves back to the import's first bar, so its next read walks the new bars.
    await sessions_repo.recheck_events(s, instrument_id, first_ts)
    return ImportResult(
        imported=parsed.count,
        inserted=inserted,
        updated=updated,
        first_ts=first_ts,
        last_ts=last_ts,
    )


class _NotClean(Exception):
    """The file is not a clean run of new bars: the streamed COPY is abandoned."""


async def _store_while_reading(
    s: AsyncSession, instrument_id: int, tf: Timeframe, stream: CsvStream, body: bytes | bytearray
) -> ImportResult | None:
    """A first import: each chunk of bars goes into the COPY as soon as it is read, so the
    server stores while Python parses. The COPY runs in a savepoint and is abandoned at the
    first line that is not plain and valid, or out of order (nothing of it stays; None: the
    caller validates the whole file and reports or stores it as usual)."""
    await _lock_for_import(s, instrument_id, tf)
    if await repo.has_any_bars(s, instrument_id):  # an import that ran since the check
        return None

    def rows() -> Iterator[bytes]:
        while (bars := stream.read()) is not None:
            if not stream.clean:
                raise _NotClean
            yield from bulk.copy_rows(instrument_id, tf, bars)
        parsed = stream.finish()
        if parsed.errors or parsed.bars is None:
            raise _NotClean  # e.g. no bars at all: the caller words it
        if isinstance(body, bytearray):
            body.clear()  # the request's buffer is spent before the aggregates' memory comes
        levels = dict(bulk.every_timeframe(parsed.bars, tf))
        del levels[tf]  # stored above
        for level_tf in sorted(levels, key=lambda t: t.value.encode()):
            yield from bulk.copy_rows(instrument_id, level_tf, levels.pop(level_tf))

    try:
        async with s.begin_nested():
            await repo.copy_bars(s, _in_thread(rows()))
    except _NotClean:
        return None
    parsed = stream.finish()
    assert parsed.first_ts is not None and parsed.last_ts is not None
    await sessions_repo.recheck_events(s, instrument_id, parsed.first_ts)
    return ImportResult(
        imported=parsed.count,
        inserted=parsed.count,
        updated=0,
        first_ts=parsed.first_ts,
        last_ts=parsed.last_ts,
    )


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each chunk made in a worker thread, one ahead: the next is read and encoded while
    this one is sent (the server never waits for Python), and the event loop keeps serving.
    One `next` at a time: an exception from it ends the iteration with no call in flight."""
    ahead = asyncio.ensure_future(run_in_threadpool(next, chunks, None))
    while (chunk := await ahead) is not None:
        ahead = asyncio.ensure_future(run_in_threadpool(next, chunks, None))
        yield chunk


def _new_rows(instrument_id: int, base: Timeframe, bars: Bars, *, trim: bool) -> Iterator[bytes]:
    """COPY rows of the bars and their aggregates, timeframes in the key's (text) order;
    `trim` leaves out each timeframe's first and last bucket."""
    levels = dict(bulk.every_timeframe(bars, base))
    for tf in sorted(levels, key=lambda t: t.value.encode()):
        level = levels[tf]
        if trim and tf != base:
            level = level.take(np.arange(1, len(level) - 1))
        yield from bulk.copy_rows(instrument_id, tf, level)


def _utc(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


async def raw_candles(
    s: AsyncSession,
    instrument_id: int,
    *,
    timeframe: Timeframe | None,
    from_ts: datetime | None,
    to_ts: datetime | None,
    limit: int,
) -> tuple[Instrument, Timeframe, list[Bar]]:
    """Stored bars outside any session (admins): `from` given reads forward, else backward."""
    instrument = await instruments_repo.get(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    tf = timeframe or instrument.timeframe
    if tf not in available_timeframes(instrument.timeframe):
        msg = (
            f"timeframe must be at or above the instrument's base timeframe {instrument.timeframe}"
        )
        raise Unprocessable(
            msg, details=[{"loc": ["query", "timeframe"], "msg": msg, "type": "value_error"}]
        )
    from_ts, to_ts = _utc(from_ts), _utc(to_ts)
    if from_ts is not None and to_ts is not None and from_ts > to_ts:
        msg = "from must not be after to"
        raise Unprocessable(
            msg, details=[{"loc": ["query", "to"], "msg": msg, "type": "value_error"}]
        )
    bars = await repo.list_bars(s, instrument_id, tf, from_ts=from_ts, to_ts=to_ts, limit=limit)
    return instrument, tf, bars
