"""Candle import (validate everything, then one bulk write) and raw reads."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
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
from .importer import ParsedCandles, parse_csv, parse_json
from .schemas import Bar, ImportResult

log = logging.getLogger(__name__)

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
JSON_TYPES = frozenset({"application/json"})


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def import_candles(
    s: AsyncSession, instrument_id: int, body: bytes | bytearray, content_type: str | None
) -> ImportResult:
    """Validate the whole file, then store it; a file with any bad row stores nothing."""
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
    # Parsing a large file takes seconds of CPU: keep the event loop serving meanwhile.
    parsed = await run_in_threadpool(parser, body, tf)
    if isinstance(body, bytearray):
        body.clear()  # the request's buffer is spent: its memory goes before the COPY's comes
    if parsed.errors:
        raise Unprocessable("The file has invalid rows; nothing was stored", details=parsed.errors)
    parsed_at = time.perf_counter()
    result = await store(s, instrument_id, parsed, expected_tf=tf)
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


async def store(
    s: AsyncSession, instrument_id: int, parsed: ParsedCandles, *, expected_tf: Timeframe
) -> ImportResult:
    """The bulk path: binary COPY of the bars and of every timeframe's buckets built from them.

    The instrument row stays locked until commit, so imports of one instrument (and edits of
    its base timeframe) run one after another and the aggregates never see a half import.
    """
    bars, first_ts, last_ts = parsed.bars, parsed.first_ts, parsed.last_ts
    assert bars is not None and first_ts is not None and last_ts is not None
    instrument = await instruments_repo.get_locked(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    if instrument.base_timeframe != expected_tf.value:
        raise Conflict("The instrument's base timeframe changed during the import; retry")
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
