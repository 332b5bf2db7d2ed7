"""Auction session shapes, as seed 003 shows them (plus the detail's summary, SPEC 4)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from servicekit.openapi import not_null

from ..bills.schemas import BillOut
from ..envelope import CommissionerId, Money, Quantity, Timestamp
from ..items.schemas import ItemOut

SessionStatus = Literal["ACTIVE", "COMPLETED"]


# Dates an auction can plausibly have; also keeps UTC conversion and day arithmetic in range.
MIN_DATE = datetime(1900, 1, 1, tzinfo=UTC)
MAX_DATE = datetime(3000, 1, 1, tzinfo=UTC)


def to_utc(value: datetime) -> datetime:
    """A value without an offset is UTC; outside 1900..2999 is a validation error."""
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("Date out of range") from exc
    if not MIN_DATE <= value < MAX_DATE:
        raise ValueError("Date must be between 1900-01-01 and 2999-12-31 (UTC)")
    return value


def _date_string(value: Any) -> Any:
    # The seed's date is an ISO 8601 string; a JSON number is not Unix seconds here.
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string")
    return value


SessionDate = Annotated[datetime, BeforeValidator(_date_string), AfterValidator(to_utc)]


class SessionCreate(BaseModel):
    date: SessionDate | None = Field(
        default=None,
        description="Defaults to the current instant; a value without an offset is UTC",
        examples=["2025-08-03T10:00:00.000Z"],
    )


class SessionUpdate(BaseModel):
    """Both optional; a field sent as null is a 400."""

    model_config = ConfigDict(json_schema_extra=not_null())

    status: SessionStatus | None = None
    date: SessionDate | None = Field(default=None, examples=["2025-08-03T10:00:00.000Z"])


class SessionCount(BaseModel):
    auction_items: int
    bills: int


class SessionOut(BaseModel):
    id: uuid.UUID
    date: Timestamp
    commissioner_id: CommissionerId
    status: SessionStatus
    created_at: Timestamp
    updated_at: Timestamp
    count: SessionCount = Field(serialization_alias="_count")


class ProductSummary(BaseModel):
    product_id: uuid.UUID
    product_name: str
    category_name: str
    items_count: int
    amount: Money
    quantity_by_unit: dict[str, Quantity]


class SessionSummary(BaseModel):
    """Totals over the session's items; commission over its non-void bills."""

    total_items: int
    total_amount: Money = Field(description="Sum of final_price over all items")
    total_commission: Money = Field(description="Sum of commission_amount of non-void bills")
    billed_amount: Money
    unbilled_amount: Money
    billed_items: int
    unbilled_items: int
    quantity_by_unit: dict[str, Quantity]
    farmers_count: int
    buyers_count: int
    products: list[ProductSummary]


class SessionDetail(SessionOut):
    auction_items: list[ItemOut]
    bills: list[BillOut]
    summary: SessionSummary
