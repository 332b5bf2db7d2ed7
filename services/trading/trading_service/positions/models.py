"""The `positions` table: a market exposure of a session, open or closed (SPEC 3, SPEC 8)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
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


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class PositionStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class CloseReason(StrEnum):
    MANUAL = "MANUAL"
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"
    STOP_OUT = "STOP_OUT"
    SESSION_END = "SESSION_END"


class Position(Base):
    __tablename__ = "positions"
    __table_args__ = (
        CheckConstraint("side IN ('BUY', 'SELL')", name="side_known"),
        CheckConstraint("status IN ('OPEN', 'CLOSED')", name="status_known"),
        CheckConstraint("volume > 0", name="volume_positive"),
        CheckConstraint("open_price > 0", name="open_price_positive"),
        CheckConstraint("commission >= 0", name="commission_non_negative"),
        # A closed position has its close fill; an open one has none.
        CheckConstraint(
            "(status = 'CLOSED') = (close_price IS NOT NULL AND close_ts IS NOT NULL "
            "AND close_reason IS NOT NULL AND profit IS NOT NULL)",
            name="closed_iff_close_fill",
        ),
        Index("ix_positions_session_status", "session_id", "status", "id"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trading_sessions.id", ondelete="CASCADE")
    )
    # The order that opened it (None for a market order); the split-off part keeps it.
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    # A partial close's closed part points at the position it was split from.
    parent_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("positions.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(6), server_default=text("'OPEN'"))
    volume: Mapped[Decimal] = mapped_column(Numeric)
    open_price: Mapped[Decimal] = mapped_column(Numeric)
    open_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stop_loss: Mapped[Decimal | None] = mapped_column(Numeric)
    take_profit: Mapped[Decimal | None] = mapped_column(Numeric)
    margin: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    commission: Mapped[Decimal] = mapped_column(Numeric(20, 2), server_default=text("0"))
    close_price: Mapped[Decimal | None] = mapped_column(Numeric)
    close_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_reason: Mapped[str | None] = mapped_column(String(16))
    profit: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    ambiguous: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
