"""The `orders` table: pending LIMIT and STOP orders of a session (SPEC 3, SPEC 8)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    Numeric,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    STOP = "STOP"


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class OrderReason(StrEnum):
    """Why an order left PENDING without filling."""

    MANUAL = "MANUAL"  # DELETE /orders/{id}
    SESSION_END = "SESSION_END"
    MARGIN = "MARGIN"  # REJECTED: its margin did not fit the free margin when it triggered


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("type IN ('LIMIT', 'STOP')", name="type_known"),
        CheckConstraint("side IN ('BUY', 'SELL')", name="side_known"),
        CheckConstraint(
            "status IN ('PENDING', 'FILLED', 'CANCELLED', 'REJECTED')", name="status_known"
        ),
        CheckConstraint("volume > 0", name="volume_positive"),
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint(
            "(status = 'FILLED') = (position_id IS NOT NULL AND filled_price IS NOT NULL "
            "AND filled_ts IS NOT NULL)",
            name="filled_iff_fill",
        ),
        Index("ix_orders_session_status", "session_id", "status", "id"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trading_sessions.id", ondelete="CASCADE")
    )
    type: Mapped[str] = mapped_column(String(5))
    side: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(9), server_default=text("'PENDING'"))
    volume: Mapped[Decimal] = mapped_column(Numeric)
    price: Mapped[Decimal] = mapped_column(Numeric)
    stop_loss: Mapped[Decimal | None] = mapped_column(Numeric)
    take_profit: Mapped[Decimal | None] = mapped_column(Numeric)
    # Replay time the order was placed (its bar), and when it left PENDING.
    placed_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    position_id: Mapped[int | None] = mapped_column(BigInteger)
    filled_price: Mapped[Decimal | None] = mapped_column(Numeric)
    filled_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
