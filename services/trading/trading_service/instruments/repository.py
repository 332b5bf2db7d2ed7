"""Instrument queries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Instrument


async def get(s: AsyncSession, instrument_id: int) -> Instrument | None:
    return await s.get(Instrument, instrument_id)


async def get_locked(s: AsyncSession, instrument_id: int) -> Instrument | None:
    """The row under FOR NO KEY UPDATE: serializes imports and edits of one instrument while
    still letting sessions reference it (their foreign key only needs KEY SHARE)."""
    result = await s.execute(
        select(Instrument)
        .where(Instrument.id == instrument_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def get_by_symbol(s: AsyncSession, symbol: str) -> Instrument | None:
    result = await s.execute(select(Instrument).where(Instrument.symbol == symbol))
    return result.scalar_one_or_none()


async def page(s: AsyncSession, *, page: int, limit: int) -> tuple[Sequence[Instrument], int]:
    total = (await s.execute(select(func.count()).select_from(Instrument))).scalar_one()
    rows = (
        await s.execute(
            select(Instrument).order_by(Instrument.id).offset((page - 1) * limit).limit(limit)
        )
    ).scalars()
    return rows.all(), int(total)


async def count(s: AsyncSession) -> int:
    return int((await s.execute(select(func.count()).select_from(Instrument))).scalar_one())


async def add(s: AsyncSession, instrument: Instrument) -> Instrument:
    s.add(instrument)
    await s.flush()
    await s.refresh(instrument)
    return instrument


async def save(s: AsyncSession, instrument: Instrument) -> Instrument:
    instrument.updated_at = func.now()
    await s.flush()
    await s.refresh(instrument)
    return instrument


async def delete(s: AsyncSession, instrument: Instrument) -> None:
    await s.delete(instrument)
    await s.flush()
