"""Pending orders (SPEC 3): placed on the current bar, triggered by the engine from the next
base bar on (README "Trading rules"), cancelled by the trader or the session's end."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import BadRequest

from ..positions import service as positions_service
from ..positions.models import Side
from ..replay import engine
from ..sessions.dependencies import LockedSessionView, SessionView
from ..sessions.service import field_error
from . import repository as repo
from .models import Order, OrderReason, OrderStatus, OrderType
from .schemas import OrderCreate, OrderList, OrderOut


def out(order: Order) -> OrderOut:
    return OrderOut.model_validate(order, from_attributes=True)


def check_market_side(
    order_type: str, side: str, price: Decimal, bid: Decimal, ask: Decimal
) -> None:
    """A BUY LIMIT at or below the ask, a BUY STOP at or above it; a SELL LIMIT at or above
    the bid, a SELL STOP at or below it."""
    buy = side == Side.BUY
    market = ask if buy else bid
    below = (order_type == OrderType.LIMIT) == buy
    if below and price > market:
        raise field_error(
            ["body", "price"],
            f"a {side} {order_type} must be at or below the {'ask' if buy else 'bid'} {market}",
        )
    if not below and price < market:
        raise field_error(
            ["body", "price"],
            f"a {side} {order_type} must be at or above the {'ask' if buy else 'bid'} {market}",
        )


async def place_order(db: AsyncSession, view: LockedSessionView, body: OrderCreate) -> OrderOut:
    view.require_started("place an order")
    book = await engine.load(db, view.row)
    bid = await book.current_close()
    instrument = book.instrument
    for name in ("price", "stop_loss", "take_profit"):
        positions_service.check_price(name, getattr(body, name), instrument)
    check_market_side(body.type, body.side, body.price, bid, bid + book.costs.spread)
    positions_service.check_levels(body.side, body.stop_loss, body.take_profit, body.price)
    volume = positions_service.size(
        book,
        volume=body.volume,
        risk_pct=body.risk_pct,
        stop_loss=body.stop_loss,
        entry=body.price,
        bid=bid,
    )
    positions_service.check_margin(book, volume, body.price, bid)
    ts = view.row.current_ts
    assert ts is not None
    order = Order(
        session_id=view.row.id,
        type=body.type.value,
        side=body.side.value,
        status=OrderStatus.PENDING.value,
        volume=volume,
        price=body.price,
        stop_loss=body.stop_loss,
        take_profit=body.take_profit,
        placed_ts=ts,
    )
    db.add(order)
    await db.flush()
    book.orders.append(order)
    await book.plan()
    await db.flush()
    return out(order)


async def cancel_order(db: AsyncSession, view: LockedSessionView, order: Order) -> OrderOut:
    view.require_started("cancel an order")
    if order.status != OrderStatus.PENDING:
        raise BadRequest(f"Order {order.id} is {order.status}, not PENDING")
    book = await engine.load(db, view.row)
    ts = view.row.current_ts
    assert ts is not None
    book.cancel(order, ts, OrderReason.MANUAL)
    await book.plan()
    await db.flush()
    return out(order)


async def list_orders(
    db: AsyncSession, view: SessionView, *, status: str | None, page: int, limit: int
) -> OrderList:
    rows, total = await repo.list_page(
        db, view.row.id, status=status, offset=(page - 1) * limit, limit=limit
    )
    return OrderList(orders=[out(o) for o in rows], total=total, page=page, limit=limit)
