"""Charge shapes: what a commissioner sends and what the API shows."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from servicekit.openapi import not_null

from ..envelope import CommissionerId, Money, Timestamp
from ..items.schemas import Unit
from ..masters.schemas import Name

ChargeKind = Literal["PERCENT", "PER_UNIT", "FIXED_PER_LOT"]
Payer = Literal["FARMER", "BUYER"]
# Whose money the charge is once collected (charges.models.ACCOUNTS): the agent's own income,
# the market yard's (remitted; the market-fee register) or a third party's (labour, weighing).
Account = Literal["AGENT", "MARKET_YARD", "THIRD_PARTY"]
ACCOUNT_DESCRIPTION = (
    "Whose money it is: AGENT (the agent's income), MARKET_YARD (the market fee, remitted), "
    "THIRD_PARTY (labour, weighing)"
)
# A percent (0..100) for PERCENT, money per unit or per lot otherwise; exact, never rounded.
ChargeRateIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]

PERCENT_OVER_100 = "A PERCENT charge's rate is at most 100"
UNIT_REQUIRED = "A PER_UNIT charge needs a unit"
UNIT_NOT_ALLOWED = "Only a PER_UNIT charge has a unit"


def shape_error(kind: str, rate: Decimal, unit: str | None) -> tuple[str, str] | None:
    """The (field, message) a kind/rate/unit combination breaks, if any."""
    if kind == "PERCENT" and rate > 100:
        return "rate", PERCENT_OVER_100
    if kind == "PER_UNIT" and unit is None:
        return "unit", UNIT_REQUIRED
    if kind != "PER_UNIT" and unit is not None:
        return "unit", UNIT_NOT_ALLOWED
    return None


class ChargeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(examples=["Market fee"])
    kind: ChargeKind
    rate: ChargeRateIn = Field(examples=[1.5])
    unit: Unit | None = None
    payer: Payer
    active: bool = True
    account: Account = Field(default="AGENT", description=ACCOUNT_DESCRIPTION)

    @model_validator(mode="after")
    def _shape(self) -> Self:
        broken = shape_error(self.kind, self.rate, self.unit)
        if broken is not None:
            raise ValueError(broken[1])
        return self


class ChargeUpdate(BaseModel):
    """Only the fields sent; the result is checked as a whole (kind, rate and unit agree)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=not_null("name", "kind", "rate", "payer", "active", "account"),
    )

    name: Name | None = None
    kind: ChargeKind | None = None
    rate: ChargeRateIn | None = None
    unit: Unit | None = None
    payer: Payer | None = None
    active: bool | None = None
    account: Account | None = Field(default=None, description=ACCOUNT_DESCRIPTION)


class ChargeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    commissioner_id: CommissionerId
    name: str
    kind: ChargeKind
    rate: Money
    unit: Unit | None
    payer: Payer
    active: bool
    account: Account = Field(description=ACCOUNT_DESCRIPTION)
    created_at: Timestamp
    updated_at: Timestamp
