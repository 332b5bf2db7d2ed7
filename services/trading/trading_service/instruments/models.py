"""The `instruments` table: what can be replayed, and its trading specification."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Numeric,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..timeframes import Timeframe

SYMBOL_MAX_LENGTH = 32


class Instrument(Base):
    __tablename__ = "instruments"
    __table_args__ = (
        CheckConstraint("digits BETWEEN 0 AND 10", name="digits_range"),
        CheckConstraint("point > 0", name="point_positive"),
        CheckConstraint("contract_size > 0", name="contract_size_positive"),
        CheckConstraint("min_volume > 0", name="min_volume_positive"),
        CheckConstraint("volume_step > 0", name="volume_step_positive"),
        CheckConstraint("min_volume <= max_volume", name="volume_range"),
        CheckConstraint(
            "base_timeframe IN ('M1','M5','M10','M15','M30','H1','H2','H4','D1','W1')",
            name="base_timeframe_known",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_MAX_LENGTH), unique=True)
    description: Mapped[str] = mapped_column(Text, server_default=text("''"))
    digits: Mapped[int] = mapped_column(SmallInteger)
    # 10^-digits, kept in the row so SQL (and other domains) can use it without recomputing.
    point: Mapped[Decimal] = mapped_column(Numeric)
    contract_size: Mapped[Decimal] = mapped_column(Numeric)
    min_volume: Mapped[Decimal] = mapped_column(Numeric)
    volume_step: Mapped[Decimal] = mapped_column(Numeric)
    max_volume: Mapped[Decimal] = mapped_column(Numeric)
    base_timeframe: Mapped[str] = mapped_column(String(3), server_default=text("'M1'"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def timeframe(self) -> Timeframe:
        """The base timeframe as the enum."""
        return Timeframe(self.base_timeframe)


def point_for(digits: int) -> Decimal:
    """10^-digits as an exact decimal (digits 5 -> 0.00001)."""
    return Decimal(1).scaleb(-digits)
