"""The fill log's SQL: the engine appends, the stream reads (replay/models.py `fills`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Fill


async def after(
    db: AsyncSession, session_id: int, after_id: int, *, until_bar: datetime, limit: int
) -> Sequence[Fill]:
    """Fills with id > `after_id` on bars up to `until_bar`, in the order they happened."""
    stmt = (
        select(Fill)
        .where(Fill.session_id == session_id, Fill.id > after_id, Fill.bar_ts <= until_bar)
        .order_by(Fill.id)
        .limit(limit)
    )
    return list((await db.execute(stmt)).scalars())


async def last_id_before_bar(db: AsyncSession, session_id: int, bar_ts: datetime) -> int:
    """The id of the last fill on a bar before `bar_ts` (0 when none): where a stream that
    resumes after the bar `bar_ts` picks the fills up."""
    value = (
        await db.execute(
            select(func.max(Fill.id)).where(Fill.session_id == session_id, Fill.bar_ts < bar_ts)
        )
    ).scalar_one()
    return int(value or 0)
