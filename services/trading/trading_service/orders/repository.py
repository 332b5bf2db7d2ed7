"""Orders SQL. Access goes through the order's session (owner or admin)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Order

MAX_ID = 2**63 - 1


async def session_id_of(db: AsyncSession, order_id: int) -> int | None:
    """The session an order belongs to (it never changes), or None."""
    if not 1 <= order_id <= MAX_ID:
        return None
    stmt = select(Order.session_id).where(Order.id == order_id)
    value: int | None = (await db.execute(stmt)).scalar_one_or_none()
    return value


async def get(db: AsyncSession, order_id: int) -> Order:
    """The order as of now (read after its session was settled or locked)."""
    stmt = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    return (await db.execute(stmt)).scalar_one()


async def list_page(
    db: AsyncSession, session_id: int, *, status: str | None, offset: int, limit: int
) -> tuple[Sequence[Order], int]:
    """One page, oldest first (id order), and the total."""
    cond = [Order.session_id == session_id]
    if status is not None:
        cond.append(Order.status == status)
    total = (await db.execute(select(func.count()).where(*cond))).scalar_one()
    stmt = (
        select(Order)
        .where(*cond)
        .order_by(Order.id)
        .offset(offset)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list((await db.execute(stmt)).scalars()), int(total)


async def count_pending(db: AsyncSession, session_id: int) -> int:
    stmt = select(func.count()).where(Order.session_id == session_id, Order.status == "PENDING")
    return int((await db.execute(stmt)).scalar_one())


async def pending(db: AsyncSession, session_id: int) -> Sequence[Order]:
    """Every PENDING order of the session, oldest first."""
    stmt = (
        select(Order)
        .where(Order.session_id == session_id, Order.status == "PENDING")
        .order_by(Order.id)
        .execution_options(populate_existing=True)
    )
    return list((await db.execute(stmt)).scalars())
