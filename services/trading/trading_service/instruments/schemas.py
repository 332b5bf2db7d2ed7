"""Instrument request and response bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from servicekit.openapi import not_null

from ..timeframes import Timeframe
from .models import SYMBOL_MAX_LENGTH

# Decimals travel as JSON numbers (the seeds show numbers), never as strings.
JsonDecimal = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]

# Bounded so every accepted value fits the columns and the arithmetic built on them.
Quantity = Annotated[Decimal, Field(gt=0, lt=Decimal("1e12"), decimal_places=8)]
Symbol = Annotated[
    str,
    Field(
        min_length=1,
        max_length=SYMBOL_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._#/\-]*$",
        examples=["EURUSD"],
    ),
]
Description = Annotated[str, Field(max_length=500)]
Digits = Annotated[int, Field(ge=0, le=10)]


class InstrumentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    symbol: Symbol
    description: Description = ""
    digits: Digits
    contract_size: Quantity
    min_volume: Quantity
    volume_step: Quantity
    max_volume: Quantity
    base_timeframe: Timeframe = Timeframe.M1


class InstrumentUpdate(BaseModel):
    """Every field optional: what is sent changes, the rest stays (null is refused)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=not_null())

    symbol: Symbol | None = None
    description: Description | None = None
    digits: Digits | None = None
    contract_size: Quantity | None = None
    min_volume: Quantity | None = None
    volume_step: Quantity | None = None
    max_volume: Quantity | None = None
    base_timeframe: Timeframe | None = None


class InstrumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    symbol: str
    description: str
    digits: int
    point: JsonDecimal
    contract_size: JsonDecimal
    min_volume: JsonDecimal
    volume_step: JsonDecimal
    max_volume: JsonDecimal
    base_timeframe: Timeframe
    created_at: datetime
    updated_at: datetime


class InstrumentList(BaseModel):
    instruments: list[InstrumentOut]
    total: int
    page: int
    limit: int
