"""Every SQL statement of the reports: read-only sums over lots, bills and invoices by the
session's UTC calendar day.

These reads join four domains (sessions, lots, bills, invoices) for one figure each; like the
ledger's outstanding view they live with the report that needs them, not in the owners'
repositories. Every statement filters by the commissioner on the session and the document.
A document's day is its session's: a bill or invoice covers one session.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Row, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..bills.models import Bill, BillCharge, BillItem
from ..invoices.models import BuyerInvoice, InvoiceCharge, InvoiceItem
from ..items.models import AuctionItem
from ..masters.models import Buyer, Farmer, Product
from ..sessions.models import AuctionSession

S = AuctionSession
# The session's UTC calendar day (the one-active-session rule's day).
DAY = cast(func.timezone("UTC", S.date), Date)
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Side:
    """The tables of one side: farmer bills or buyer invoices (the same shape)."""

    doc: Any
    item: Any
    charge: Any
    item_doc_id: Any
    charge_doc_id: Any


BILLS = Side(Bill, BillItem, BillCharge, BillItem.bill_id, BillCharge.bill_id)
INVOICES = Side(
    BuyerInvoice, InvoiceItem, InvoiceCharge, InvoiceItem.invoice_id, InvoiceCharge.invoice_id
)


def _sessions(commissioner_id: int, start: datetime, end: datetime) -> tuple[Any, ...]:
    """The commissioner's sessions with start <= date < end (the index on (commissioner, date))."""
    return (S.commissioner_id == commissioner_id, S.date >= start, S.date < end)


async def lot_totals(
    db: AsyncSession, commissioner_id: int, start: datetime, end: datetime
) -> Sequence[Row[date, int, Decimal]]:
    """Per day: how many lots were sold and their Σ final_price (billed or not)."""
    stmt = (
        select(DAY, func.count(AuctionItem.id), func.sum(AuctionItem.final_price))
        .join(S, S.id == AuctionItem.session_id)
        .where(
            AuctionItem.commissioner_id == commissioner_id, *_sessions(commissioner_id, start, end)
        )
        .group_by(DAY)
    )
    return (await db.execute(stmt)).all()


async def bill_totals(
    db: AsyncSession, commissioner_id: int, start: datetime, end: datetime
) -> Sequence[Row[date, int, Decimal, Decimal]]:
    """Per day, ACTIVE bills: count, Σ total, Σ commission the farmer pays."""
    farmer_commission = case((Bill.commission_payer == "FARMER", Bill.commission_amount), else_=0)
    stmt = (
        select(DAY, func.count(Bill.id), func.sum(Bill.total_amount), func.sum(farmer_commission))
        .join(S, S.id == Bill.session_id)
        .where(
            Bill.commissioner_id == commissioner_id,
            Bill.status == "ACTIVE",
            *_sessions(commissioner_id, start, end),
        )
        .group_by(DAY)
    )
    return (await db.execute(stmt)).all()


async def invoice_totals(
    db: AsyncSession, commissioner_id: int, start: datetime, end: datetime
) -> Sequence[Row[date, int, Decimal, Decimal]]:
    """Per day, ACTIVE invoices: count, Σ lots, Σ commission (0 unless the buyer pays it)."""
    inv = BuyerInvoice
    stmt = (
        select(DAY, func.count(inv.id), func.sum(inv.lots_amount), func.sum(inv.commission_amount))
        .join(S, S.id == inv.session_id)
        .where(
            inv.commissioner_id == commissioner_id,
            inv.status == "ACTIVE",
            *_sessions(commissioner_id, start, end),
        )
        .group_by(DAY)
    )
    return (await db.execute(stmt)).all()


async def charge_totals(
    db: AsyncSession, side: Side, commissioner_id: int, start: datetime, end: datetime
) -> Sequence[Row[date, str, Decimal]]:
    """Per day and account: Σ the charge lines of one side's ACTIVE documents."""
    doc, charge = side.doc, side.charge
    stmt = (
        select(DAY, charge.account, func.sum(charge.amount))
        .join(doc, doc.id == side.charge_doc_id)
        .join(S, S.id == doc.session_id)
        .where(
            doc.commissioner_id == commissioner_id,
            doc.status == "ACTIVE",
            *_sessions(commissioner_id, start, end),
        )
        .group_by(DAY, charge.account)
    )
    return (await db.execute(stmt)).all()


def _lots(commissioner_id: int, start: datetime, end: datetime) -> Any:
    """Every lot of the range with its names and its ACTIVE bill and invoice (if any)."""
    inv = BuyerInvoice
    return (
        select(
            AuctionItem.id,
            DAY.label("day"),
            AuctionItem.farmer_id,
            Farmer.name.label("farmer_name"),
            AuctionItem.buyer_id,
            Buyer.name.label("buyer_name"),
            AuctionItem.product_id,
            Product.name.label("product_name"),
            AuctionItem.quantity,
            AuctionItem.unit,
            AuctionItem.final_price,
            Bill.id.label("bill_id"),
            Bill.bill_number,
            inv.id.label("invoice_id"),
            inv.invoice_number,
        )
        .join(S, S.id == AuctionItem.session_id)
        .join(Farmer, Farmer.id == AuctionItem.farmer_id)
        .join(Buyer, Buyer.id == AuctionItem.buyer_id)
        .join(Product, Product.id == AuctionItem.product_id)
        .outerjoin(
            Bill,
            and_(
                Bill.id == AuctionItem.bill_id,
                Bill.status == "ACTIVE",
                Bill.commissioner_id == commissioner_id,
            ),
        )
        .outerjoin(
            inv,
            and_(
                inv.id == AuctionItem.invoice_id,
                inv.status == "ACTIVE",
                inv.commissioner_id == commissioner_id,
            ),
        )
        .where(
            AuctionItem.commissioner_id == commissioner_id, *_sessions(commissioner_id, start, end)
        )
    )


async def lots_page(
    db: AsyncSession,
    commissioner_id: int,
    start: datetime,
    end: datetime,
    *,
    offset: int,
    limit: int | None,
) -> tuple[Sequence[Row[Any]], int]:
    """The lots of the range in session order (date, then entry order; id breaks ties)."""
    base = _lots(commissioner_id, start, end)
    total = int(
        (
            await db.execute(base.with_only_columns(func.count(), maintain_column_froms=True))
        ).scalar_one()
    )
    stmt = base.order_by(S.date, S.id, AuctionItem.created_at, AuctionItem.id).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    return (await db.execute(stmt)).all(), total


async def document_lots(
    db: AsyncSession, side: Side, commissioner_id: int, doc_ids: Sequence[uuid.UUID]
) -> Sequence[Row[uuid.UUID, uuid.UUID, Decimal, Decimal, str]]:
    """Every lot line of the given documents (document, lot, amount, quantity, unit), in the
    order the lots were entered at the auction (a document's lines share one created_at)."""
    if not doc_ids:
        return []
    doc, item = side.doc, side.item
    stmt = (
        select(side.item_doc_id, item.auction_item_id, item.amount, item.quantity, item.unit)
        .join(doc, doc.id == side.item_doc_id)
        .outerjoin(AuctionItem, AuctionItem.id == item.auction_item_id)
        .where(doc.commissioner_id == commissioner_id, doc.id.in_(doc_ids))
        .order_by(
            side.item_doc_id,
            AuctionItem.created_at.asc().nulls_last(),
            item.auction_item_id,
        )
    )
    return (await db.execute(stmt)).all()


async def document_lines(
    db: AsyncSession,
    side: Side,
    commissioner_id: int,
    doc_ids: Sequence[uuid.UUID],
    account: str,
) -> Sequence[Row[uuid.UUID, str, str | None, Decimal]]:
    """The given documents' charge lines of one account (document, kind, unit, amount)."""
    if not doc_ids:
        return []
    doc, charge = side.doc, side.charge
    stmt = (
        select(side.charge_doc_id, charge.kind, charge.unit, charge.amount)
        .join(doc, doc.id == side.charge_doc_id)
        .where(
            doc.commissioner_id == commissioner_id,
            doc.id.in_(doc_ids),
            charge.account == account,
        )
        .order_by(side.charge_doc_id, charge.position)
    )
    return (await db.execute(stmt)).all()
