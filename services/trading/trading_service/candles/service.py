"""Candle import (validate everything, then one bulk write) and raw reads."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from servicekit.errors import Conflict, NotFound, Unprocessable

from ..instruments import repository as instruments_repo
from ..instruments.models import Instrument
from ..sessions import repository as sessions_repo
from ..timeframes import Timeframe, available_timeframes
from . import repository as repo
from .exceptions import UnsupportedMediaType
from .importer import ParsedCandles, parse_csv, parse_json
from .schemas import Bar, ImportResult

log = logging.getLogger(__name__)

CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain"})
JSON_TYPES = frozenset({"application/json"})


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def import_candles(
    s: AsyncSession, instrument_id: int, body: bytes, content_type: str | None
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
    """The bulk path: COPY the bars, then recompute the touched buckets of every timeframe.

    The instrument row stays locked until commit, so imports of one instrument (and edits of
    its base timeframe) run one after another and the aggregates never see a half import.
    """
    assert parsed.first_ts is not None and parsed.last_ts is not None
    instrument = await instruments_repo.get_locked(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    if instrument.base_timeframe != expected_tf.value:
        raise Conflict("The instrument's base timeframe changed during the import; retry")
    payload = await run_in_threadpool(parsed.payload, instrument_id, expected_tf)
    if await repo.has_bars_in_range(s, instrument_id, expected_tf, parsed.first_ts, parsed.last_ts):
        inserted, updated = await repo.upsert_bars(s, payload)
    else:
        # Nothing to collide with: the fastest path, straight into the table.
        await repo.copy_new_bars(s, payload)
        inserted, updated = parsed.count, 0
    await repo.rebuild_aggregates(s, instrument_id, expected_tf, parsed.first_ts, parsed.last_ts)
    # Bars a started session has not processed may have changed: its planned next event
    # moves back to the import's first bar, so its next read walks the new bars.
    await sessions_repo.recheck_events(s, instrument_id, parsed.first_ts)
    return ImportResult(
        imported=parsed.count,
        inserted=inserted,
        updated=updated,
        first_ts=parsed.first_ts,
        last_ts=parsed.last_ts,
    )


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
