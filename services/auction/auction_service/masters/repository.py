"""Master queries, always scoped to one commissioner."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.elements import ColumnElement

from ..bills.models import Bill, BillCharge
from ..charges.models import Charge
from ..db import violated_constraint
from ..invoices.models import BuyerInvoice, InvoiceCharge
from ..items.models import AuctionItem
from .models import Buyer, Category, Farmer, Product

M = TypeVar("M", Category, Product, Farmer, Buyer, Charge)


def _options(model: type[Any]) -> list[Any]:
    return [selectinload(Product.category)] if model is Product else []


def _escape_like(q: str) -> str:
    return q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(model: type[Any], q: str) -> ColumnElement[bool]:
    pattern = f"%{_escape_like(q)}%"
    cols = [model.name]
    for extra in ("phone", "village"):
        if hasattr(model, extra):
            cols.append(getattr(model, extra))
    return or_(*(c.ilike(pattern, escape="\\") for c in cols))


async def list_page(
    session: AsyncSession,
    model: type[M],
    commissioner_id: int,
    *,
    q: str | None,
    active: bool | None,
    offset: int,
    limit: int,
) -> tuple[Sequence[M], int]:
    where: list[ColumnElement[bool]] = [model.commissioner_id == commissioner_id]
    if q:
        where.append(_search(model, q))
    if active is not None and hasattr(model, "active"):
        where.append(model.active.is_(active))
    total = (
        await session.execute(select(func.count()).select_from(model).where(*where))
    ).scalar_one()
    rows = (
        await session.scalars(
            select(model)
            .where(*where)
            .options(*_options(model))
            .order_by(func.lower(model.name), model.id)
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return rows, int(total)


async def get(
    session: AsyncSession,
    model: type[M],
    commissioner_id: int,
    id_: uuid.UUID,
    *,
    lock: bool = False,
    share: bool = False,
) -> M | None:
    stmt = (
        select(model)
        .where(model.id == id_, model.commissioner_id == commissioner_id)
        .options(*_options(model))
    )
    if lock:
        stmt = stmt.with_for_update()
    elif share:
        # Holds the row against a concurrent deactivation until this transaction ends.
        stmt = stmt.with_for_update(read=True)
    result: M | None = (await session.scalars(stmt)).one_or_none()
    return result


async def refresh(session: AsyncSession, obj: Any) -> None:
    """Reload server-set columns (timestamps) and, for products, the category."""
    await session.flush()
    attrs = ["created_at", "updated_at"]
    if isinstance(obj, Product):
        attrs.append("category")
    await session.refresh(obj, attribute_names=attrs)


async def add(session: AsyncSession, obj: Any) -> str | None:
    """Insert; returns the violated constraint's name instead of raising."""
    try:
        async with session.begin_nested():
            session.add(obj)
            await session.flush()
    except IntegrityError as exc:
        return violated_constraint(exc) or "unknown"
    return None


async def save(session: AsyncSession) -> str | None:
    """Flush pending changes; returns the violated constraint's name instead of raising."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        return violated_constraint(exc) or "unknown"
    return None


async def is_referenced(session: AsyncSession, obj: Any) -> bool:
    """True while any row points at this master (delete would be refused)."""
    checks: list[Any] = []
    if isinstance(obj, Category):
        checks.append(exists().where(Product.category_id == obj.id))
    elif isinstance(obj, Product):
        checks.append(exists().where(AuctionItem.product_id == obj.id))
    elif isinstance(obj, Farmer):
        checks.append(exists().where(AuctionItem.farmer_id == obj.id))
        checks.append(exists().where(Bill.farmer_id == obj.id))
    elif isinstance(obj, Buyer):
        checks.append(exists().where(AuctionItem.buyer_id == obj.id))
        checks.append(exists().where(BuyerInvoice.buyer_id == obj.id))
    elif isinstance(obj, Charge):
        checks.append(exists().where(BillCharge.charge_id == obj.id))
        checks.append(exists().where(InvoiceCharge.charge_id == obj.id))
    for check in checks:
        if (await session.execute(select(check))).scalar_one():
            return True
    return False


async def remove(session: AsyncSession, obj: Any) -> bool:
    """Delete; False when a foreign key still points at it (a concurrent reference)."""
    try:
        async with session.begin_nested():
            await session.execute(delete(type(obj)).where(type(obj).id == obj.id))
    except IntegrityError:
        return False
    return True
