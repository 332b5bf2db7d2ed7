"""Every SQL statement of buyer invoices and collections."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from ..charges.models import Charge
from ..items import repository as items_repo
from ..items.models import AuctionItem
from ..masters.models import Buyer, Product
from .models import BuyerInvoice, Collection

# What `schemas.invoice_out` reads: the buyer, the lots, the charge lines and the collections.
INVOICE_LOAD = (
    joinedload(BuyerInvoice.buyer, innerjoin=True),
    selectinload(BuyerInvoice.invoice_items),
    selectinload(BuyerInvoice.charges),
    selectinload(BuyerInvoice.collections),
)


@dataclass(frozen=True)
class InvoiceFilters:
    session_id: uuid.UUID | None = None
    buyer_id: uuid.UUID | None = None
    collection_status: str | None = None
    status: str | None = None


async def get_buyer(db: AsyncSession, commissioner_id: int, buyer_id: uuid.UUID) -> Buyer | None:
    stmt = select(Buyer).where(Buyer.id == buyer_id, Buyer.commissioner_id == commissioner_id)
    return (await db.execute(stmt)).scalar_one_or_none()


async def lock_uninvoiced_items(
    db: AsyncSession, commissioner_id: int, session_id: uuid.UUID, buyer_id: uuid.UUID
) -> Sequence[tuple[AuctionItem, str]]:
    """The buyer's uninvoiced lots in the session with their product names, row-locked (FOR
    UPDATE of the lots, in (created_at, id) order as bill generation locks them, so the two
    never deadlock): a concurrent invoice for the same buyer waits here, then re-reads
    `invoice_id IS NULL` and finds nothing."""
    stmt = (
        select(AuctionItem, Product.name)
        .join(Product, Product.id == AuctionItem.product_id)
        .where(
            AuctionItem.commissioner_id == commissioner_id,
            AuctionItem.session_id == session_id,
            AuctionItem.buyer_id == buyer_id,
            AuctionItem.invoice_id.is_(None),
        )
        .order_by(AuctionItem.created_at, AuctionItem.id)
        .with_for_update(of=AuctionItem)
    )
    return [(item, name) for item, name in (await db.execute(stmt)).all()]


async def active_buyer_charges(db: AsyncSession, commissioner_id: int) -> Sequence[Charge]:
    """The charges a new buyer invoice adds, in name order (the order of its lines)."""
    stmt = (
        select(Charge)
        .where(
            Charge.commissioner_id == commissioner_id,
            Charge.payer == "BUYER",
            Charge.active.is_(True),
        )
        .order_by(func.lower(Charge.name), Charge.id)
    )
    return (await db.execute(stmt)).scalars().all()


async def mark_items_invoiced(
    db: AsyncSession, item_ids: Sequence[uuid.UUID], invoice_id: uuid.UUID
) -> int:
    """Conditional: only lots still on no invoice; the caller checks every lot was taken."""
    stmt = (
        update(AuctionItem)
        .where(AuctionItem.id.in_(item_ids), AuctionItem.invoice_id.is_(None))
        .values(invoice_id=invoice_id)
        .execution_options(synchronize_session=False)
    )
    result = await db.execute(stmt)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def release_items(db: AsyncSession, invoice_id: uuid.UUID) -> None:
    await items_repo.release_lots(db, "invoice_id", invoice_id)


async def lock_invoice(
    db: AsyncSession, commissioner_id: int, invoice_id: uuid.UUID
) -> BuyerInvoice | None:
    """The invoice row under FOR UPDATE: collections and voiding of one invoice run one at a
    time."""
    stmt = (
        select(BuyerInvoice)
        .where(BuyerInvoice.id == invoice_id, BuyerInvoice.commissioner_id == commissioner_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).scalar_one_or_none()


async def has_collections(db: AsyncSession, invoice_id: uuid.UUID) -> bool:
    stmt = select(Collection.id).where(Collection.invoice_id == invoice_id).limit(1)
    return (await db.execute(stmt)).first() is not None


async def get_invoice(
    db: AsyncSession, commissioner_id: int, invoice_id: uuid.UUID
) -> BuyerInvoice | None:
    stmt = (
        select(BuyerInvoice)
        .options(*INVOICE_LOAD)
        .where(BuyerInvoice.id == invoice_id, BuyerInvoice.commissioner_id == commissioner_id)
        .execution_options(populate_existing=True)
    )
    return (await db.execute(stmt)).unique().scalar_one_or_none()


def _filtered(
    stmt: Select[BuyerInvoice], commissioner_id: int, f: InvoiceFilters
) -> Select[BuyerInvoice]:
    stmt = stmt.where(BuyerInvoice.commissioner_id == commissioner_id)
    if f.session_id is not None:
        stmt = stmt.where(BuyerInvoice.session_id == f.session_id)
    if f.buyer_id is not None:
        stmt = stmt.where(BuyerInvoice.buyer_id == f.buyer_id)
    if f.collection_status is not None:
        stmt = stmt.where(BuyerInvoice.collection_status == f.collection_status)
    if f.status is not None:
        stmt = stmt.where(BuyerInvoice.status == f.status)
    return stmt


async def list_invoices(
    db: AsyncSession, commissioner_id: int, f: InvoiceFilters, *, page: int, limit: int
) -> tuple[Sequence[BuyerInvoice], int]:
    """Newest number first; the number is unique per commissioner, so pages are stable."""
    count_stmt = _filtered(select(BuyerInvoice), commissioner_id, f).with_only_columns(
        func.count(), maintain_column_froms=True
    )
    total = int((await db.execute(count_stmt)).scalar_one())
    stmt = (
        _filtered(select(BuyerInvoice), commissioner_id, f)
        .options(*INVOICE_LOAD)
        .order_by(BuyerInvoice.seq.desc(), BuyerInvoice.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    invoices = (await db.execute(stmt)).unique().scalars().all()
    return invoices, total
