"""The `reports` table: an immutable snapshot of a session at `replay_ts` (SPEC 3 "Reports").

What the report shows is stored with it (statistics, trades, the equity series), so later
trading in the session never changes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, Index, Integer, LargeBinary, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_session_id", "session_id", "id"),)
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    session_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("trading_sessions.id", ondelete="CASCADE")
    )
    replay_ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stats: Mapped[dict[str, object]] = mapped_column(JSONB)
    # The trades as their CSV (zlib): written once, served as is.
    trades_csv: Mapped[bytes] = mapped_column(LargeBinary)
    # The equity series, zlib-compressed: bar open times (int64 ns, delta-encoded) and
    # equity (float64).
    equity_index: Mapped[bytes] = mapped_column(LargeBinary)
    equity_values: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
