"""Request and response bodies of positions (SPEC 3) and what they share with orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..instruments.schemas import JsonDecimal
from ..sessions.schemas import FloatOut, JsonNumber, TimestampOut
from .models import CloseReason, PositionStatus, Side

MAX_PRICE = Decimal("1e9")
MAX_VOLUME = Decimal("1e9")

# Prices and volumes are JSON numbers (seed style); exact decimals once parsed.
Price = Annotated[Decimal, JsonNumber, Field(gt=0, lt=MAX_PRICE)]
Volume = Annotated[Decimal, JsonNumber, Field(gt=0, lt=MAX_VOLUME)]
RiskPct = Annotated[Decimal, JsonNumber, Field(gt=0, le=100)]


class Sizing(BaseModel):
    """`volume`, or `risk_pct` with a `stop_loss` (the largest volume whose loss at the stop,
    costs included, stays within that share of equity)."""

    model_config = ConfigDict(extra="forbid")

    side: Side
    volume: Volume | None = None
    risk_pct: RiskPct | None = None
    stop_loss: Price | None = None
    take_profit: Price | None = None

    @model_validator(mode="after")
    def _volume_or_risk(self) -> Sizing:
        if (self.volume is None) == (self.risk_pct is None):
            raise ValueError("give either volume or risk_pct (with stop_loss), not both")
        if self.risk_pct is not None and self.stop_loss is None:
            raise ValueError("risk_pct needs a stop_loss")
        return self


class PositionCreate(Sizing):
    """`POST /sessions/{id}/positions`: a market order on the current bar."""


class PositionUpdate(BaseModel):
    """`PATCH /positions/{id}`: new levels; `null` removes one, an absent field keeps it."""

    model_config = ConfigDict(extra="forbid")

    stop_loss: Price | None = None
    take_profit: Price | None = None


class PositionClose(BaseModel):
    """`POST /positions/{id}/close`: all of it, or `volume` of it (a partial close)."""

    model_config = ConfigDict(extra="forbid")

    volume: Volume | None = None


class PositionOut(BaseModel):
    """A position as SPEC 3 shows it. An OPEN one's `profit` is its unrealized P&L at the
    current bar's close (closing side, no slippage), in cents."""

    id: int
    session_id: int
    side: Side
    volume: JsonDecimal
    open_price: JsonDecimal
    open_ts: TimestampOut
    stop_loss: JsonDecimal | None
    take_profit: JsonDecimal | None
    status: PositionStatus
    close_price: JsonDecimal | None
    close_ts: TimestampOut | None
    close_reason: CloseReason | None
    commission: FloatOut
    profit: FloatOut
    net_profit: FloatOut
    margin: FloatOut
    ambiguous: bool
    parent_id: int | None
    order_id: int | None
    created_at: TimestampOut
    updated_at: TimestampOut


class PositionList(BaseModel):
    positions: list[PositionOut]
    total: int
    page: int
    limit: int


PositionStatusFilter = Literal["OPEN", "CLOSED"]
