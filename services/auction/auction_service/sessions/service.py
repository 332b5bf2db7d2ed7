"""Auction session rules (seed 003): one ACTIVE session per commissioner per UTC date (the
database's partial unique index decides, also under races), completing needs items,
reopening is allowed, only empty sessions are deleted."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Conflict, NotFound

from ..bills.models import Bill
from ..bills.repository import bills_for_session
from ..bills.schemas import bill_out
from ..errors import ValidationFailed
from ..items import repository as items_repo
from ..items.models import AuctionItem
from ..items.schemas import item_out
from ..masters.service import parse_id
from . import repository as repo
from .models import ONE_ACTIVE_PER_DATE, AuctionSession
from .schemas import (
    ProductSummary,
    SessionCount,
    SessionCreate,
    SessionDetail,
    SessionOut,
    SessionSummary,
    SessionUpdate,
    to_utc,
)

SESSION_NOT_FOUND = "Session not found"
ACTIVE_EXISTS = "An active session already exists for this date"
COMPLETE_NEEDS_ITEMS = "Cannot complete session without any auction items"
DELETE_HAS_ITEMS = (
    "Cannot delete session with auction items. Please remove all auction items first."
)
DELETE_HAS_BILLS = "Cannot delete session with bills. Please remove all bills first."
# A buyer invoice, even a void one, keeps its session (its number stays in the series).
DELETE_HAS_INVOICES = "Cannot delete session with buyer invoices."
DELETED = "Session deleted successfully"
ZERO = Decimal("0.00")


def as_utc(value: datetime) -> datetime:
    """A datetime without an offset is taken as UTC (validated dates already are)."""
    return to_utc(value)


def session_out(obj: AuctionSession, items: int, bills: int) -> SessionOut:
    return SessionOut(
        id=obj.id,
        date=obj.date,
        commissioner_id=str(obj.commissioner_id),
        status=obj.status,  # type: ignore[arg-type]  # the column's CHECK holds the values
        created_at=obj.created_at,
        updated_at=obj.updated_at,
        count=SessionCount(auction_items=items, bills=bills),
    )


def _raise_for(constraint: str) -> None:
    if constraint == ONE_ACTIVE_PER_DATE:
        raise Conflict(ACTIVE_EXISTS)
    raise Conflict("The change conflicts with existing data")


async def session_or_404(
    db: AsyncSession,
    commissioner_id: int,
    raw_id: str,
    *,
    lock: bool = False,
    share: bool = False,
) -> AuctionSession:
    """Another commissioner's session is 404, like a missing one (`lock`/`share`: see
    repository.get)."""
    found = await repo.get(db, commissioner_id, parse_id(raw_id, "Session"), lock=lock, share=share)
    if found is None:
        raise NotFound(SESSION_NOT_FOUND)
    return found


async def list_sessions(
    db: AsyncSession,
    commissioner_id: int,
    filters: repo.SessionFilters,
    *,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[SessionOut], int]:
    rows, total = await repo.list_page(
        db,
        commissioner_id,
        filters,
        sort_by=sort_by,
        descending=descending,
        offset=offset,
        limit=limit,
    )
    return [session_out(s, items, bills) for s, items, bills in rows], total


async def create_session(db: AsyncSession, commissioner_id: int, body: SessionCreate) -> SessionOut:
    when = as_utc(body.date) if body.date is not None else datetime.now(UTC)
    obj = AuctionSession(commissioner_id=commissioner_id, date=when, status="ACTIVE")
    violated = await repo.save(db, obj)
    if violated is not None:
        _raise_for(violated)
    await repo.reload(db, obj)
    return session_out(obj, 0, 0)


async def update_session(
    db: AsyncSession, commissioner_id: int, raw_id: str, body: SessionUpdate
) -> SessionOut:
    changes = body.model_dump(exclude_unset=True)
    null = [f for f in ("status", "date") if f in changes and changes[f] is None]
    if null:
        raise ValidationFailed(
            details=[
                {"loc": ["body", f], "msg": "Field may not be null", "type": "value_error"}
                for f in null
            ]
        )
    # FOR UPDATE: item writes hold the row FOR SHARE, so none runs while this decides.
    obj = await session_or_404(db, commissioner_id, raw_id, lock=True)
    items, bills = await repo.counts(db, obj.id)
    if changes.get("status") == "COMPLETED" and items == 0:
        raise Conflict(COMPLETE_NEEDS_ITEMS)
    if "status" in changes:
        obj.status = changes["status"]
    if "date" in changes:
        obj.date = as_utc(changes["date"])
    # Reopening or re-dating onto a date that already has an ACTIVE session: the index says no.
    violated = await repo.save(db)
    if violated is not None:
        _raise_for(violated)
    await repo.reload(db, obj)
    return session_out(obj, items, bills)


async def delete_session(db: AsyncSession, commissioner_id: int, raw_id: str) -> str:
    obj = await session_or_404(db, commissioner_id, raw_id, lock=True)
    items, bills = await repo.counts(db, obj.id)
    if items:
        raise Conflict(DELETE_HAS_ITEMS)
    if bills:
        raise Conflict(DELETE_HAS_BILLS)
    violated = await repo.delete(db, obj)
    if violated is not None:
        # A row added since the counts (foreign keys are RESTRICT): still a 409, never a 500.
        if "auction_items" in violated:
            raise Conflict(DELETE_HAS_ITEMS)
        raise Conflict(DELETE_HAS_INVOICES if "buyer_invoices" in violated else DELETE_HAS_BILLS)
    return DELETED


def summarize(items: Sequence[AuctionItem], bills: Sequence[Bill]) -> SessionSummary:
    total = billed = ZERO
    billed_count = 0
    by_unit: dict[str, Decimal] = defaultdict(Decimal)
    farmers: set[uuid.UUID] = set()
    buyers: set[uuid.UUID] = set()
    products: dict[uuid.UUID, ProductSummary] = {}
    for it in items:
        total += it.final_price
        if it.bill_id is not None:
            billed += it.final_price
            billed_count += 1
        by_unit[it.unit] += it.quantity
        farmers.add(it.farmer_id)
        buyers.add(it.buyer_id)
        ps = products.get(it.product_id)
        if ps is None:
            ps = products[it.product_id] = ProductSummary(
                product_id=it.product_id,
                product_name=it.product.name,
                category_name=it.product.category.name,
                items_count=0,
                amount=ZERO,
                quantity_by_unit={},
            )
        ps.items_count += 1
        ps.amount += it.final_price
        ps.quantity_by_unit[it.unit] = ps.quantity_by_unit.get(it.unit, Decimal(0)) + it.quantity
    commission = sum((b.commission_amount for b in bills if b.status != "VOID"), ZERO)
    return SessionSummary(
        total_items=len(items),
        total_amount=total,
        total_commission=commission,
        billed_amount=billed,
        unbilled_amount=total - billed,
        billed_items=billed_count,
        unbilled_items=len(items) - billed_count,
        quantity_by_unit=dict(by_unit),
        farmers_count=len(farmers),
        buyers_count=len(buyers),
        products=sorted(products.values(), key=lambda p: (p.product_name.lower(), p.product_id)),
    )


async def session_detail(db: AsyncSession, commissioner_id: int, raw_id: str) -> SessionDetail:
    obj = await session_or_404(db, commissioner_id, raw_id)
    items = await items_repo.all_for_session(db, obj.id)
    bills = await bills_for_session(db, commissioner_id, obj.id)
    by_id = {b.id: b for b in bills}
    missing = [i.bill_id for i in items if i.bill_id is not None and i.bill_id not in by_id]
    if missing:
        by_id.update(await items_repo.bills_by_id(db, missing))
    base = session_out(obj, len(items), len(bills))
    return SessionDetail(
        **base.model_dump(),
        auction_items=[item_out(i, by_id.get(i.bill_id) if i.bill_id else None) for i in items],
        bills=[bill_out(b) for b in bills],
        summary=summarize(items, bills),
    )
