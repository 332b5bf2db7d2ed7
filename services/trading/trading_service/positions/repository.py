"""Positions SQL. Access goes through the position's session (owner or admin)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Position

MAX_ID = 2**63 - 1


async def session_id_of(db: AsyncSession, position_id: int) -> int | None:
    """The session a position belongs to (it never changes), or None."""
    if not 1 <= position_id <= MAX_ID:
        return None
    stmt = select(Position.session_id).where(Position.id == position_id)
    value: int | None = (await db.execute(stmt)).scalar_one_or_none()
    return value


async def get(db: AsyncSession, position_id: int) -> Position:
    """The position as of now (read after its session was settled or locked)."""
    stmt = (
        select(Position).where(Position.id == position_id).execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).scalar_one()


async def list_page(
    db: AsyncSession, session_id: int, *, status: str | None, offset: int, limit: int
) -> tuple[Sequence[Position], int]:
    """One page, oldest first (id order), and the total."""
    cond = [Position.session_id == session_id]
    if status is not None:
        cond.append(Position.status == status)
    total = (await db.execute(select(func.count()).where(*cond))).scalar_one()
    stmt = (
        select(Position)
        .where(*cond)
        .order_by(Position.id)
        .offset(offset)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list((await db.execute(stmt)).scalars()), int(total)


async def open_positions(db: AsyncSession, session_id: int) -> Sequence[Position]:
    """Every OPEN position of the session, oldest first (one query, no count)."""
    stmt = (
        select(Position)
        .where(Position.session_id == session_id, Position.status == "OPEN")
        .order_by(Position.id)
        .execution_options(populate_existing=True)
    )
    return list((await db.execute(stmt)).scalars())


# --- hot reads on a `Database.reader()` connection (asyncpg, no ORM, no transaction) ---

COLUMNS = (
    "id, session_id, side, volume, open_price, open_ts, stop_loss, take_profit, status, "
    "close_price, close_ts, close_reason, commission, profit, margin, ambiguous, parent_id, "
    "order_id, created_at, updated_at"
)

# One page, its total and what marking it needs (the bid close of the current bar, the
# instrument's point and contract size) in one statement: one row per position of the page,
# or one row of NULLs when the page is empty; the total and the marks on every row.
_PAGE_MARKED = f"""
WITH page AS (
    SELECT {COLUMNS} FROM positions
    WHERE session_id = $1 AND ($2::text IS NULL OR status = $2)
    ORDER BY id OFFSET $3 LIMIT $4
)
SELECT t.total, t.bid, t.point, t.contract_size, p.*
FROM (
    SELECT (SELECT count(*) FROM positions
            WHERE session_id = $1 AND ($2::text IS NULL OR status = $2)) AS total,
           (SELECT close FROM candles
            WHERE instrument_id = $5 AND timeframe = $6 AND ts = $7) AS bid,
           i.point, i.contract_size
    FROM instruments i WHERE i.id = $5
) t
LEFT JOIN page p ON true
ORDER BY p.id
"""  # noqa: S608 (column names, no input)


async def page_marked(
    read: Any,
    session_id: int,
    *,
    status: str | None,
    offset: int,
    limit: int,
    instrument_id: int,
    timeframe: str,
    current_ts: datetime | None,
) -> list[Any]:
    """`list_page` and the marks (`service.marks`) as asyncpg Records, one round trip."""
    rows: list[Any] = await read.fetch(
        _PAGE_MARKED, session_id, status, offset, limit, instrument_id, timeframe, current_ts
    )
    return rows
