"""Report bodies (SPEC 3 "Reports")."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..sessions.schemas import TimestampOut


class ReportOut(BaseModel):
    """A snapshot at `replay_ts`. `stats` holds every SPEC 3 figure: backtesting.py's with its
    definitions (durations in seconds, timestamps ISO 8601, undefined figures null) and the
    MT4 money figures."""

    id: int
    session_id: int
    replay_ts: TimestampOut
    created_at: TimestampOut
    stats: dict[str, Any] = Field(description="Statistics; null where undefined")
    trades_csv: str = Field(description="Path of the trades as CSV")
    equity_svg: str = Field(description="Path of the equity picture (SVG)")


class ReportList(BaseModel):
    reports: list[ReportOut]
    total: int
    page: int
    limit: int
