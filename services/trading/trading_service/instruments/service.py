"""Instrument rules: validation, uniqueness, and what may change once candles exist."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Conflict, NotFound, Unprocessable

from ..candles import repository as candles_repo
from ..timeframes import ALL_TIMEFRAMES, Timeframe, aggregation_sources
from . import repository as repo
from .models import Instrument, point_for
from .schemas import InstrumentCreate, InstrumentUpdate

UNIQUE_VIOLATION = "23505"
# ON DELETE RESTRICT raises restrict_violation; NO ACTION raises foreign_key_violation.
REFERENCED = frozenset({"23001", "23503"})


def _sqlstate(exc: IntegrityError) -> str | None:
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return code if isinstance(code, str) else None


def _invalid(field: str, msg: str) -> Unprocessable:
    return Unprocessable(msg, details=[{"loc": ["body", field], "msg": msg, "type": "value_error"}])


def _check_base_timeframe(tf: Timeframe) -> None:
    # Every timeframe at or above the base must be exactly derivable from it (M15 is not
    # from M10 bars), so "a session's timeframe is at or above the base" is the whole rule.
    higher = [t for t in ALL_TIMEFRAMES if t.seconds > tf.seconds]
    if len(aggregation_sources(tf)) != len(higher):
        raise _invalid(
            "base_timeframe",
            f"base_timeframe {tf} cannot be aggregated exactly to every higher timeframe",
        )


def _check_volumes(min_volume: Decimal, volume_step: Decimal, max_volume: Decimal) -> None:
    if min_volume > max_volume:
        raise _invalid("max_volume", "max_volume must be greater than or equal to min_volume")
    if volume_step > max_volume:
        raise _invalid("volume_step", "volume_step must not exceed max_volume")


async def get(s: AsyncSession, instrument_id: int) -> Instrument:
    instrument = await repo.get(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    return instrument


async def list_page(s: AsyncSession, *, page: int, limit: int) -> tuple[Sequence[Instrument], int]:
    return await repo.page(s, page=page, limit=limit)


async def create(s: AsyncSession, data: InstrumentCreate) -> Instrument:
    _check_volumes(data.min_volume, data.volume_step, data.max_volume)
    _check_base_timeframe(data.base_timeframe)
    instrument = Instrument(
        symbol=data.symbol,
        description=data.description,
        digits=data.digits,
        point=point_for(data.digits),
        contract_size=data.contract_size,
        min_volume=data.min_volume,
        volume_step=data.volume_step,
        max_volume=data.max_volume,
        base_timeframe=data.base_timeframe.value,
    )
    try:
        return await repo.add(s, instrument)
    except IntegrityError as exc:
        if _sqlstate(exc) == UNIQUE_VIOLATION:
            raise Conflict(f"An instrument with symbol {data.symbol!r} already exists") from exc
        raise


async def update(s: AsyncSession, instrument_id: int, data: InstrumentUpdate) -> Instrument:
    instrument = await repo.get_locked(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    changes: dict[str, Any] = data.model_dump(exclude_unset=True)
    for key, value in list(changes.items()):
        if value is None:
            raise _invalid(key, f"{key} may not be null")
    _check_volumes(
        changes.get("min_volume", instrument.min_volume),
        changes.get("volume_step", instrument.volume_step),
        changes.get("max_volume", instrument.max_volume),
    )
    if "base_timeframe" in changes:
        new_tf = Timeframe(changes["base_timeframe"])
        _check_base_timeframe(new_tf)
        changes["base_timeframe"] = new_tf.value
        if new_tf.value != instrument.base_timeframe and await candles_repo.has_any_bars(
            s, instrument.id
        ):
            raise Conflict("base_timeframe cannot change while the instrument has candles")
    if "digits" in changes:
        changes["point"] = point_for(changes["digits"])
    for key, value in changes.items():
        setattr(instrument, key, value)
    try:
        return await repo.save(s, instrument)
    except IntegrityError as exc:
        if _sqlstate(exc) == UNIQUE_VIOLATION:
            raise Conflict(f"An instrument with symbol {data.symbol!r} already exists") from exc
        raise


async def delete(s: AsyncSession, instrument_id: int) -> None:
    instrument = await repo.get_locked(s, instrument_id)
    if instrument is None:
        raise NotFound("Instrument not found")
    try:
        # The row first: a session's foreign key (ON DELETE RESTRICT) refuses it right here.
        await repo.delete(s, instrument)
    except IntegrityError as exc:
        if _sqlstate(exc) in REFERENCED:
            raise Conflict("Instrument is used by a trading session") from exc
        raise
    await candles_repo.delete_bars(s, instrument_id)
