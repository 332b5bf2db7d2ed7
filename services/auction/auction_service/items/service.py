"""Auction item rules (seed 003): only in ACTIVE sessions, billed items are immutable, and the
farmer, product and buyer must exist, be active and be the commissioner's own."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Conflict, NotFound

from ..errors import ValidationFailed
from ..masters import repository as masters_repo
from ..masters.models import Buyer, Farmer, Product
from ..masters.service import parse_id
from ..sessions.models import AuctionSession
from ..sessions.service import session_or_404
from . import repository as repo
from .models import AuctionItem
from .schemas import ItemCreate, ItemOut, ItemUpdate, item_out

ITEM_NOT_FOUND = "Auction item not found"
SESSION_NOT_ACTIVE = "Items can only be added, updated or deleted in an ACTIVE session"
ITEM_BILLED = "Cannot modify a billed auction item. Void its bill first."
ITEM_INVOICED = "Cannot modify an invoiced auction item. Void its buyer invoice first."
MASTERS: dict[str, tuple[type[Any], str]] = {
    "farmer_id": (Farmer, "Farmer"),
    "product_id": (Product, "Product"),
    "buyer_id": (Buyer, "Buyer"),
}
NOT_NULL = ("farmer_id", "product_id", "buyer_id", "unit", "quantity", "final_price")


async def _writable_session(db: AsyncSession, commissioner_id: int, raw_id: str) -> AuctionSession:
    # FOR SHARE: completing (FOR UPDATE) waits for this write, and this write for it.
    return await session_or_404(db, commissioner_id, raw_id, share=True)


def _ensure_active(found: AuctionSession) -> None:
    if found.status != "ACTIVE":
        raise Conflict(SESSION_NOT_ACTIVE)


async def _check_masters(db: AsyncSession, commissioner_id: int, values: dict[str, Any]) -> None:
    """Every referenced master exists, is active and is this commissioner's: else 400 with
    one detail per bad field. Rows are held FOR SHARE against a concurrent deactivation."""
    details = []
    for field, (model, label) in MASTERS.items():
        if field not in values:
            continue
        obj = await masters_repo.get(db, model, commissioner_id, values[field], share=True)
        if obj is None:
            msg = f"{label} not found"
        elif not obj.active:
            msg = f"{label} is inactive"
        else:
            continue
        details.append({"loc": ["body", field], "msg": msg, "type": "value_error"})
    if details:
        raise ValidationFailed("; ".join(str(d["msg"]) for d in details), details=details)


async def _out(db: AsyncSession, item: AuctionItem) -> ItemOut:
    bills = await repo.bills_by_id(db, [item.bill_id] if item.bill_id else [])
    return item_out(item, bills.get(item.bill_id) if item.bill_id else None)


async def outs(db: AsyncSession, items: Sequence[AuctionItem]) -> list[ItemOut]:
    bills = await repo.bills_by_id(db, [i.bill_id for i in items if i.bill_id])
    return [item_out(i, bills.get(i.bill_id) if i.bill_id else None) for i in items]


async def list_items(
    db: AsyncSession,
    commissioner_id: int,
    raw_session_id: str,
    filters: repo.ItemFilters,
    *,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
) -> tuple[list[ItemOut], int]:
    found = await session_or_404(db, commissioner_id, raw_session_id)
    items, total = await repo.list_page(
        db,
        found.id,
        filters,
        sort_by=sort_by,
        descending=descending,
        offset=offset,
        limit=limit,
    )
    return await outs(db, items), total


async def add_item(
    db: AsyncSession, commissioner_id: int, raw_session_id: str, body: ItemCreate
) -> ItemOut:
    found = await _writable_session(db, commissioner_id, raw_session_id)
    _ensure_active(found)
    values = body.model_dump()
    await _check_masters(db, commissioner_id, values)
    item = AuctionItem(session_id=found.id, commissioner_id=commissioner_id, **values)
    db.add(item)
    return await _out(db, await repo.reload(db, item))


def _ensure_unbilled(item: AuctionItem) -> None:
    """A lot on a farmer bill or an active buyer invoice is a document's snapshot: 409."""
    if item.bill_id is not None:
        raise Conflict(ITEM_BILLED)
    if item.invoice_id is not None:
        raise Conflict(ITEM_INVOICED)


async def _item_or_404(
    db: AsyncSession, session_id: uuid.UUID, raw_item_id: str, *, lock: bool = False
) -> AuctionItem:
    item_id = parse_id(raw_item_id, "Auction item")
    item = await repo.get(db, session_id, item_id, lock=lock)
    if item is None:
        raise NotFound(ITEM_NOT_FOUND)
    return item


async def get_item(
    db: AsyncSession, commissioner_id: int, raw_session_id: str, raw_item_id: str
) -> ItemOut:
    found = await session_or_404(db, commissioner_id, raw_session_id)
    return await _out(db, await _item_or_404(db, found.id, raw_item_id))


async def update_item(
    db: AsyncSession,
    commissioner_id: int,
    raw_session_id: str,
    raw_item_id: str,
    body: ItemUpdate,
) -> ItemOut:
    changes = body.model_dump(exclude_unset=True)
    null = [f for f in NOT_NULL if f in changes and changes[f] is None]
    if null:
        raise ValidationFailed(
            details=[
                {"loc": ["body", f], "msg": "Field may not be null", "type": "value_error"}
                for f in null
            ]
        )
    found = await _writable_session(db, commissioner_id, raw_session_id)
    item = await _item_or_404(db, found.id, raw_item_id, lock=True)
    _ensure_active(found)
    _ensure_unbilled(item)
    await _check_masters(db, commissioner_id, changes)
    for name, value in changes.items():
        setattr(item, name, value)
    return await _out(db, await repo.reload(db, item))


async def delete_item(
    db: AsyncSession, commissioner_id: int, raw_session_id: str, raw_item_id: str
) -> None:
    found = await _writable_session(db, commissioner_id, raw_session_id)
    item = await _item_or_404(db, found.id, raw_item_id, lock=True)
    _ensure_active(found)
    _ensure_unbilled(item)
    await db.delete(item)
    await db.flush()
