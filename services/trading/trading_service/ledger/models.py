"""The `transactions` table: a session's ledger, one row per money movement (SPEC 3)."""

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


class TransactionType(StrEnum):
    DEPOSIT = "DEPOSIT"
    COMMISSION = "COMMISSION"
    PROFIT = "PROFIT"


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("type IN ('DEPOSIT', 'COMMISSION', 'PROFIT')", name="type_known"),
        CheckConstraint("type <> 'COMMISSION' OR amount <= 0", name="commission_is_a_debit"),
        CheckConstraint("type <> 'DEPOSIT' OR amount > 0", name="deposit_is_a_credit"),
        Index("ix_transactions_session_id", "session_id", "id"),
        Index("ix_transactions_session_type", "session_id", "type", "id"),
    )
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trading_sessions.id", ondelete="CASCADE")
    )
    position_id: Mapped[int | None] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    balance_after: Mapped[Decimal] = mapped_column(Numeric(20, 2))
    replay_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
