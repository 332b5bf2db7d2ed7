"""Every SQL statement of auction items."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql.elements import ColumnElement

from ..bills.models import Bill
from ..masters.models import Product
from .models import AuctionItem

# What `schemas.item_out` reads.
ITEM_LOAD = (
    joinedload(AuctionItem.farmer, innerjoin=True),
    joinedload(AuctionItem.product, innerjoin=True).joinedload(Product.category, innerjoin=True),
    joinedload(AuctionItem.buyer, innerjoin=True),
)

SORT_COLUMNS = {
    "created_at": AuctionItem.created_at,
    "final_price": AuctionItem.final_price,
    "quantity": AuctionItem.quantity,
}


@dataclass(frozen=True)
class ItemFilters:
    farmer_id: uuid.UUID | None = None
    product_id: uuid.UUID | None = None
    buyer_id: uuid.UUID | None = None
    billed: bool | None = None  # the seed's `paid`: billed means bill_id is set


def _where(session_id: uuid.UUID, f: ItemFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [AuctionItem.session_id == session_id]
    if f.farmer_id is not None:
        where.append(AuctionItem.farmer_id == f.farmer_id)
    if f.product_id is not None:
        where.append(AuctionItem.product_id == f.product_id)
    if f.buyer_id is not None:
        where.append(AuctionItem.buyer_id == f.buyer_id)
    if f.billed is True:
        where.append(AuctionItem.bill_id.is_not(None))
    elif f.billed is False:
        where.append(AuctionItem.bill_id.is_(None))
    return where


async def list_page(
    db: AsyncSession,
    session_id: uuid.UUID,
    f: ItemFilters,
    *,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[Sequence[AuctionItem], int]:
    where = _where(session_id, f)
    total = (
        await db.execute(select(func.count()).select_from(AuctionItem).where(*where))
    ).scalar_one()
    col = SORT_COLUMNS[sort_by]
    order = [col.desc(), AuctionItem.id.desc()] if descending else [col, AuctionItem.id]
    stmt = (
        select(AuctionItem)
        .where(*where)
        .options(*ITEM_LOAD)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    )
    return (await db.scalars(stmt)).unique().all(), int(total)


async def all_for_session(db: AsyncSession, session_id: uuid.UUID) -> Sequence[AuctionItem]:
    stmt = (
        select(AuctionItem)
        .where(AuctionItem.session_id == session_id)
        .options(*ITEM_LOAD)
        .order_by(AuctionItem.created_at, AuctionItem.id)
    )
    return (await db.scalars(stmt)).unique().all()


async def get(
    db: AsyncSession, session_id: uuid.UUID, item_id: uuid.UUID, *, lock: bool = False
) -> AuctionItem | None:
    stmt = select(AuctionItem).where(
        AuctionItem.id == item_id, AuctionItem.session_id == session_id
    )
    if lock:
        # Only the item row: billing (part B) locks the same row before setting bill_id.
        stmt = stmt.with_for_update(of=AuctionItem)
    result: AuctionItem | None = (await db.scalars(stmt.options(*ITEM_LOAD))).unique().one_or_none()
    return result


async def bills_by_id(db: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Bill]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = (await db.scalars(select(Bill).where(Bill.id.in_(wanted)))).all()
    return {b.id: b for b in rows}


async def reload(db: AsyncSession, item: AuctionItem) -> AuctionItem:
    """Flush, then read the item back with its relations (and server-set timestamps)."""
    await db.flush()
    db.expunge(item)
    fresh = await get(db, item.session_id, item.id)
    assert fresh is not None
    return fresh


async def release_lots(db: AsyncSession, column: str, document_id: uuid.UUID) -> None:
    """The lots of a voided bill (`column` "bill_id") or buyer invoice ("invoice_id") become
    free again. They are locked first in (created_at, id) order, the order bill and invoice
    generation lock lots in, so a void never deadlocks with them."""
    on_document = getattr(AuctionItem, column) == document_id
    locked = (
        select(AuctionItem.id)
        .where(on_document)
        .order_by(AuctionItem.created_at, AuctionItem.id)
        .with_for_update()
    )
    ids = (await db.execute(locked)).scalars().all()
    if ids:
        await db.execute(
            update(AuctionItem)
            .where(AuctionItem.id.in_(ids))
            .values({column: None})
            .execution_options(synchronize_session=False)
        )
