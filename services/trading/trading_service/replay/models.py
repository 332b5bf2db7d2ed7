"""The `fills` table: the engine's event log, one row per fill (SPEC 3, the stream's `fill`).

Rows of one session are written under that session's row lock, so their ids grow in the
order the fills happened, which is also the order of their bars.
"""

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
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class FillKind(StrEnum):
    OPEN = "OPEN"
    CLOSE = "CLOSE"
    PARTIAL_CLOSE = "PARTIAL_CLOSE"
    ORDER_FILLED = "ORDER_FILLED"
    ORDER_REJECTED = "ORDER_REJECTED"


class Fill(Base):
    __tablename__ = "fills"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('OPEN', 'CLOSE', 'PARTIAL_CLOSE', 'ORDER_FILLED', 'ORDER_REJECTED')",
            name="kind_known",
        ),
        Index("ix_fills_session_id", "session_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trading_sessions.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(14))
    reason: Mapped[str | None] = mapped_column(String(16))
    position_id: Mapped[int | None] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    price: Mapped[Decimal] = mapped_column(Numeric)
    volume: Mapped[Decimal] = mapped_column(Numeric)
    # The base bar it happened on, and the session-timeframe bar that holds it.
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bar_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
