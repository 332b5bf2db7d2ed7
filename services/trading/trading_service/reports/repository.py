"""Reports SQL, and the reads a report is built from (session bars, ledger, positions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..ledger.models import Transaction
from ..positions.models import Position
from .models import Report


async def close_scale(
    db: AsyncSession, instrument_id: int, timeframe: str, first: datetime, last: datetime
) -> int:
    """The most decimals any close in the range has (so closes scale to exact integers)."""
    value = (
        await db.execute(
            text(
                "SELECT coalesce(max(scale(close)), 0) FROM candles WHERE instrument_id = :iid "
                "AND timeframe = :tf AND ts >= :first AND ts <= :last"
            ),
            {"iid": instrument_id, "tf": timeframe, "first": first, "last": last},
        )
    ).scalar_one()
    return int(value)


async def bar_closes(
    db: AsyncSession,
    instrument_id: int,
    timeframe: str,
    first: datetime,
    last: datetime,
    scale: int,
) -> tuple[list[int], list[int]]:
    """The bars' open times (µs since the epoch) and closes x 10^scale (exact integers), in
    time order: two arrays in one row, which the driver decodes fast."""
    row = (
        await db.execute(
            text(
                "SELECT coalesce(array_agg((extract(epoch FROM ts) * 1000000)::bigint ORDER BY ts),"
                " '{}'), coalesce(array_agg((close * :mult)::bigint ORDER BY ts),"
                " '{}') FROM candles WHERE instrument_id = :iid AND timeframe = :tf "
                "AND ts >= :first AND ts <= :last"
            ),
            {
                "iid": instrument_id,
                "tf": timeframe,
                "first": first,
                "last": last,
                "mult": Decimal(10) ** scale,
            },
        )
    ).one()
    return list(row[0]), list(row[1])


async def ledger_rows(db: AsyncSession, session_id: int) -> Sequence[tuple[datetime, Decimal]]:
    stmt = (
        select(Transaction.replay_ts, Transaction.amount)
        .where(Transaction.session_id == session_id)
        .order_by(Transaction.id)
    )
    return [(r[0], r[1]) for r in (await db.execute(stmt)).all()]


async def positions(db: AsyncSession, session_id: int) -> Sequence[Position]:
    stmt = select(Position).where(Position.session_id == session_id).order_by(Position.id)
    return list((await db.execute(stmt)).scalars())


async def add(db: AsyncSession, report: Report) -> Report:
    db.add(report)
    await db.flush()
    return report


async def get(db: AsyncSession, report_id: int) -> Report | None:
    if not 1 <= report_id <= 2**31 - 1:
        return None
    return await db.get(Report, report_id)


async def session_id_of(db: AsyncSession, report_id: int) -> int | None:
    if not 1 <= report_id <= 2**31 - 1:
        return None
    stmt = select(Report.session_id).where(Report.id == report_id)
    value: int | None = (await db.execute(stmt)).scalar_one_or_none()
    return value


async def list_page(
    db: AsyncSession, session_id: int, *, offset: int, limit: int
) -> tuple[Sequence[Report], int]:
    cond = Report.session_id == session_id
    total = (await db.execute(select(func.count()).where(cond))).scalar_one()
    stmt = select(Report).where(cond).order_by(Report.id).offset(offset).limit(limit)
    return list((await db.execute(stmt)).scalars()), int(total)
