"""Positions SQL. Access goes through the position's session (owner or admin)."""

from __future__ import annotations

from collections.abc import Sequence

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
