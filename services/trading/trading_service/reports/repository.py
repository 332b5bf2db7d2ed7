"""Reports SQL, and the reads a report is built from (session bars, ledger, positions): rows
as plain tuples and arrays, not ORM objects (a report reads tens of thousands of them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from ..timeframes import EPOCH_MONDAY, Timeframe
from .models import Report


async def bar_closes(
    db: AsyncSession,
    instrument_id: int,
    tf: Timeframe,
    first: datetime,
    last: datetime,
    digits: int,
) -> tuple[list[int], list[int], int]:
    """The bars' open times (epoch seconds) and closes x 10^digits, in time order (two arrays
    in one row, which the driver decodes fast), and the most decimals a close has: when that
    is more than `digits`, the closes were rounded and the caller asks again with it."""
    row = (
        await db.execute(
            text(
                "SELECT coalesce(array_agg(date_part('epoch', ts)::bigint), '{}'),"
                " coalesce(array_agg((close * :mult)::bigint), '{}'),"
                " coalesce(max(scale(close)), 0) FROM (SELECT ts, close FROM candles "
                "WHERE instrument_id = :iid AND timeframe = :tf AND ts >= :first AND ts <= :last "
                "ORDER BY ts) bars"
            ),
            {
                "iid": instrument_id,
                "tf": tf.value,
                "first": first,
                "last": last,
                "mult": Decimal(10) ** digits,
            },
        )
    ).one()
    return list(row[0]), list(row[1]), int(row[2])


async def ledger_by_bar(
    db: AsyncSession, session_id: int, tf: Timeframe
) -> Sequence[tuple[int, Decimal]]:
    """The ledger summed per session bar (the bar's open time in seconds), exactly: fills are
    booked on the bar that holds them."""
    rows = await db.execute(
        text(
            "SELECT extract(epoch FROM date_bin(make_interval(secs => :secs), replay_ts, "
            ":origin))::bigint AS bar, sum(amount) FROM transactions "
            "WHERE session_id = :sid GROUP BY 1 ORDER BY 1"
        ),
        {"sid": session_id, "secs": tf.seconds, "origin": EPOCH_MONDAY},
    )
    return [(int(r[0]), r[1]) for r in rows]


_POSITIONS = text(
    "SELECT id, side, status, volume, open_price, close_price, close_reason, commission, "
    "profit, ambiguous, parent_id, extract(epoch FROM open_ts)::float8, "
    "extract(epoch FROM close_ts)::float8 FROM positions WHERE session_id = :sid ORDER BY id"
)


async def position_rows(db: AsyncSession, session_id: int) -> Sequence[Any]:
    """Every position record of the session (open and closed), oldest first, as tuples in
    the columns' order (times as epoch seconds)."""
    rows = await db.execute(_POSITIONS, {"sid": session_id})
    return list(rows)


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
