"""Auction sessions: one ACTIVE session per commissioner per UTC calendar date."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, Timestamps, uuid_pk

SESSION_STATUSES = ("ACTIVE", "COMPLETED")
# The partial unique index that settles "one active session per date", also under races.
ONE_ACTIVE_PER_DATE = "uq_auction_sessions_one_active_per_date"


class AuctionSession(Timestamps, Base):
    __tablename__ = "auction_sessions"
    __table_args__ = (
        CheckConstraint("status IN ('ACTIVE', 'COMPLETED')", name="status_valid"),
        Index(
            ONE_ACTIVE_PER_DATE,
            "commissioner_id",
            text("((date AT TIME ZONE 'UTC')::date)"),
            unique=True,
            postgresql_where=text("status = 'ACTIVE'"),
        ),
        Index("ix_auction_sessions_commissioner_id_date", "commissioner_id", "date"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    commissioner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    date: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, default="ACTIVE", server_default=text("'ACTIVE'")
    )
