"""Candle values: `Bar` for code, `CandleOut` for JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from ..instruments.schemas import JsonDecimal
from ..timeframes import Timeframe


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar; `ts` is its open time (UTC), prices are bid prices."""

    ts: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


class CandleOut(BaseModel):
    ts: datetime
    open: JsonDecimal
    high: JsonDecimal
    low: JsonDecimal
    close: JsonDecimal
    volume: JsonDecimal

    @classmethod
    def of(cls, bar: Bar) -> CandleOut:
        return cls(
            ts=bar.ts,
            open=bar.open,
            high=bar.high,
            low=bar.low,
            close=bar.close,
            volume=bar.volume,
        )


class CandleList(BaseModel):
    instrument_id: int
    timeframe: Timeframe
    candles: list[CandleOut]


class ImportResult(BaseModel):
    imported: int
    inserted: int
    updated: int
    first_ts: datetime
    last_ts: datetime
