"""Request and response bodies of pending orders (SPEC 3, SPEC 8)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from ..instruments.schemas import JsonDecimal
from ..positions.models import Side
from ..positions.schemas import Price, Sizing
from ..sessions.schemas import TimestampOut
from .models import OrderReason, OrderStatus, OrderType


class OrderCreate(Sizing):
    """`POST /sessions/{id}/orders`: a LIMIT or STOP order at `price` (the ask for a BUY,
    the bid for a SELL); sized by `volume` or by `risk_pct` with a `stop_loss`."""

    type: OrderType
    price: Price


class OrderOut(BaseModel):
    id: int
    session_id: int
    type: OrderType
    side: Side
    volume: JsonDecimal
    price: JsonDecimal
    stop_loss: JsonDecimal | None
    take_profit: JsonDecimal | None
    status: OrderStatus
    placed_ts: TimestampOut
    position_id: int | None
    filled_price: JsonDecimal | None
    filled_ts: TimestampOut | None
    closed_ts: TimestampOut | None
    reason: OrderReason | None
    created_at: TimestampOut
    updated_at: TimestampOut


class OrderList(BaseModel):
    orders: list[OrderOut]
    total: int
    page: int
    limit: int


OrderStatusFilter = Literal["PENDING", "FILLED", "CANCELLED", "REJECTED"]
