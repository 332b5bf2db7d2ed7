"""The `trading_sessions` table: one market replay, its settings and its clock."""

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


class SessionStatus(StrEnum):
    DRAFT = "DRAFT"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"


class Speed(StrEnum):
    """Playback speed: bars revealed per wall-clock second (seed 000)."""

    X0_5 = "0.5x"
    X1 = "1x"
    X2 = "2x"
    X3 = "3x"
    X5 = "5x"
    X10 = "10x"
    X15 = "15x"


def _sql_in(values: list[str]) -> str:
    return ", ".join(f"'{v}'" for v in values)


STATUSES_SQL = _sql_in([s.value for s in SessionStatus])
SPEEDS_SQL = _sql_in([s.value for s in Speed])
TIMEFRAMES_SQL = "'M1','M5','M10','M15','M30','H1','H2','H4','D1','W1'"

# Column scales: money is stored in cents (rounded half up), leverage with 4 decimals.
MONEY_SCALE = 2
LEVERAGE_SCALE = 4


class TradingSession(Base):
    __tablename__ = "trading_sessions"
    __table_args__ = (
        CheckConstraint(f"session_status IN ({STATUSES_SQL})", name="status_known"),
        CheckConstraint(f"speed IN ({SPEEDS_SQL})", name="speed_known"),
        CheckConstraint(f"timeframe IN ({TIMEFRAMES_SQL})", name="timeframe_known"),
        CheckConstraint("end_ts IS NULL OR end_ts > start_ts", name="end_after_start"),
        CheckConstraint("initial_balance > 0", name="initial_balance_positive"),
        CheckConstraint("leverage > 0", name="leverage_positive"),
        CheckConstraint("spread_pts >= 0", name="spread_non_negative"),
        CheckConstraint("slippage_pts >= 0", name="slippage_non_negative"),
        CheckConstraint("commission_per_fill >= 0", name="commission_non_negative"),
        # The clock's invariants: a DRAFT has not started; only a RUNNING clock has an anchor.
        CheckConstraint(
            "(session_status = 'DRAFT') = (current_ts IS NULL)", name="current_ts_after_start"
        ),
        CheckConstraint(
            "(session_status = 'RUNNING') = (anchor_at IS NOT NULL)", name="anchor_iff_running"
        ),
        # The ledger starts with the DEPOSIT written by `start` (SPEC 8).
        CheckConstraint(
            "(session_status = 'DRAFT') = (balance IS NULL)", name="balance_after_start"
        ),
        Index("ix_trading_sessions_user_created", "user_id", "created_at", "id"),
        Index("ix_trading_sessions_created", "created_at", "id"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    instrument_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("instruments.id", ondelete="RESTRICT"), index=True
    )
    timeframe: Mapped[str] = mapped_column(String(3))
    session_status: Mapped[str] = mapped_column(String(16), server_default=text("'DRAFT'"))
    speed: Mapped[str] = mapped_column(String(4))
    start_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    initial_balance: Mapped[Decimal] = mapped_column(Numeric(18, MONEY_SCALE))
    leverage: Mapped[Decimal] = mapped_column(Numeric(12, LEVERAGE_SCALE))
    spread_pts: Mapped[int] = mapped_column(Integer)
    slippage_pts: Mapped[int] = mapped_column(Integer)
    commission_per_fill: Mapped[Decimal] = mapped_column(Numeric(18, MONEY_SCALE))
    # Open time of the last revealed bar; while RUNNING, the bar revealed at `anchor_at`.
    current_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Database-clock instant from which a RUNNING clock counts bars (NULL unless RUNNING).
    anchor_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The ledger's running balance (Σ of its rows; written only by ledger.service.post).
    balance: Mapped[Decimal | None] = mapped_column(Numeric(20, MONEY_SCALE))
    # Earliest base-bar time at which something may fill (a recheck point at worst); NULL:
    # nothing open or pending. A read settles the engine only once the clock passes it.
    next_event_ts: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
