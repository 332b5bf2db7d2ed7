"""The `candles` table: stored base bars and every higher timeframe pre-aggregated from them.

One row per (instrument, timeframe, open time). The primary key is the only index needed:
"the last 500 H1 bars before T" is one backward range scan on it, whatever the data's size.
No foreign key to `instruments`: checking it slowed COPY by a quarter; imports lock the
instrument row, and an instrument's bars are deleted with it by the service.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Candle(Base):
    __tablename__ = "candles"

    instrument_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(3), primary_key=True)
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    open: Mapped[Decimal] = mapped_column(Numeric)
    high: Mapped[Decimal] = mapped_column(Numeric)
    low: Mapped[Decimal] = mapped_column(Numeric)
    close: Mapped[Decimal] = mapped_column(Numeric)
    volume: Mapped[Decimal] = mapped_column(Numeric)


candles = Candle.__table__


class CandleVersion(Base):
    """Renewed by the candles trigger (migration 0007; from one sequence: never the
    same value twice) whenever the service writes an instrument's bars, in the writer's
    transaction: what a cached window of them is checked against."""

    __tablename__ = "candle_versions"

    instrument_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))


class CandlesGeneration(Base):
    """One row, renewed (migration 0007) by a candle write that did not say which instrument
    it wrote (SQL by hand): every cached window depends on it as well."""

    __tablename__ = "candles_generation"
    __table_args__ = (CheckConstraint("id", name="one_row"),)

    id: Mapped[bool] = mapped_column(Boolean, primary_key=True, server_default=text("true"))
    version: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
