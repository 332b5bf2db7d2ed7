"""Every SQL statement of auction sessions."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from ..bills.models import Bill
from ..db import violated_constraint
from ..items.models import AuctionItem
from .models import AuctionSession

SORT_COLUMNS = {
    "date": AuctionSession.date,
    "created_at": AuctionSession.created_at,
    "updated_at": AuctionSession.updated_at,
}


def _items_count() -> Any:
    return (
        select(func.count())
        .where(AuctionItem.session_id == AuctionSession.id)
        .correlate(AuctionSession)
        .scalar_subquery()
    )


def _bills_count() -> Any:
    return (
        select(func.count())
        .where(Bill.session_id == AuctionSession.id)
        .correlate(AuctionSession)
        .scalar_subquery()
    )


@dataclass(frozen=True)
class SessionFilters:
    status: str | None = None
    date_from: datetime | None = None  # inclusive
    date_to: datetime | None = None  # inclusive
    date_before: datetime | None = None  # exclusive (a whole-day end bound)


def _where(commissioner_id: int, f: SessionFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [AuctionSession.commissioner_id == commissioner_id]
    if f.status is not None:
        where.append(AuctionSession.status == f.status)
    if f.date_from is not None:
        where.append(AuctionSession.date >= f.date_from)
    if f.date_to is not None:
        where.append(AuctionSession.date <= f.date_to)
    if f.date_before is not None:
        where.append(AuctionSession.date < f.date_before)
    return where


async def list_page(
    db: AsyncSession,
    commissioner_id: int,
    f: SessionFilters,
    *,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[tuple[AuctionSession, int, int]], int]:
    where = _where(commissioner_id, f)
    total = (
        await db.execute(select(func.count()).select_from(AuctionSession).where(*where))
    ).scalar_one()
    col = SORT_COLUMNS[sort_by]
    # id breaks ties, so paging never skips or repeats a row.
    order = [col.desc(), AuctionSession.id.desc()] if descending else [col, AuctionSession.id]
    stmt = (
        select(AuctionSession, _items_count(), _bills_count())
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    rows = [(r[0], int(r[1]), int(r[2])) for r in (await db.execute(stmt)).all()]
    return rows, int(total)


async def get(
    db: AsyncSession,
    commissioner_id: int,
    session_id: uuid.UUID,
    *,
    lock: bool = False,
    share: bool = False,
) -> AuctionSession | None:
    """`lock`: FOR UPDATE (status/date changes, delete); `share`: FOR SHARE (item writes run
    side by side, but never while the session is being completed, re-dated or deleted)."""
    stmt = select(AuctionSession).where(
        AuctionSession.id == session_id, AuctionSession.commissioner_id == commissioner_id
    )
    if lock:
        stmt = stmt.with_for_update()
    elif share:
        stmt = stmt.with_for_update(read=True)
    result: AuctionSession | None = (await db.scalars(stmt)).one_or_none()
    return result


async def counts(db: AsyncSession, session_id: uuid.UUID) -> tuple[int, int]:
    """(auction items, bills) of one session."""
    items = (
        await db.execute(
            select(func.count())
            .select_from(AuctionItem)
            .where(AuctionItem.session_id == session_id)
        )
    ).scalar_one()
    bills = (
        await db.execute(
            select(func.count()).select_from(Bill).where(Bill.session_id == session_id)
        )
    ).scalar_one()
    return int(items), int(bills)


async def save(db: AsyncSession, obj: AuctionSession | None = None) -> str | None:
    """Insert or flush changes inside a savepoint; the violated constraint's name, if any."""
    try:
        async with db.begin_nested():
            if obj is not None:
                db.add(obj)
            await db.flush()
    except IntegrityError as exc:
        return violated_constraint(exc) or "unknown"
    return None


async def reload(db: AsyncSession, obj: AuctionSession) -> None:
    await db.refresh(obj, attribute_names=["date", "status", "created_at", "updated_at"])


async def delete(db: AsyncSession, obj: AuctionSession) -> str | None:
    try:
        async with db.begin_nested():
            await db.delete(obj)
            await db.flush()
    except IntegrityError as exc:
        return violated_constraint(exc) or "unknown"
    return None
