"""The seed's success envelope, shared by every auction router.

`{"success": true, "data": ..., "meta": {"timestamp": "...Z"}}`; lists add `page`, `limit`,
`total` and `totalPages` to `meta`. Errors are rendered by `errors.render_error`.

Also the JSON shapes every schema shares: money, quantities and rates are `Decimal` in Python
and JSON numbers on the wire (the seed shows `2525.0`); timestamps are ISO 8601 UTC with
milliseconds and `Z` (`2025-08-03T10:00:00.000Z`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from servicekit.openapi import ErrorItem

from .errors import now_iso

T = TypeVar("T")


def iso_z(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and `Z`; a naive value is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Decimal) -> float:
    return float(value)


# Decimal inside, JSON number outside (pydantic would otherwise write a string).
Money = Annotated[Decimal, PlainSerializer(_number, return_type=float, when_used="json")]
Quantity = Money
Rate = Money
Timestamp = Annotated[
    datetime,
    PlainSerializer(iso_z, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]


def no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("Text may not contain NUL characters")
    return value


# Text for the database: PostgreSQL `text` cannot hold NUL (it would be a 500, not a 400).
DbText = Annotated[str, AfterValidator(no_nul)]
NO_NUL_PATTERN = r"^[^\x00]*$"

# The auth user id (BIGINT) rendered as a string, as the seed shows ids.
CommissionerId = Annotated[
    str,
    BeforeValidator(str),
    WithJsonSchema({"type": "string", "pattern": "^[0-9]+$"}, mode="serialization"),
]
# A row id the response carries as text (always a UUID).
UuidText = Annotated[str, WithJsonSchema({"type": "string", "format": "uuid"})]


class Meta(BaseModel):
    timestamp: str = Field(
        default_factory=now_iso,
        examples=["2025-08-03T10:00:00.000Z"],
        json_schema_extra={"format": "date-time"},
    )


class ListMeta(Meta):
    page: int
    limit: int
    total: int
    totalPages: int  # the seed's camelCase name


class Envelope(BaseModel, Generic[T]):
    """A single resource: `{success: true, data, meta: {timestamp}}`."""

    success: Literal[True] = True
    data: T
    meta: Meta = Field(default_factory=Meta)


class ListEnvelope(BaseModel, Generic[T]):
    """A page of resources: meta carries page, limit, total and totalPages."""

    success: Literal[True] = True
    data: list[T]
    meta: ListMeta


class MessageData(BaseModel):
    message: str


class AmountDetails(BaseModel):
    """A refused payment's details: what is still owed on the bill."""

    outstanding_amount: float


class ErrorBody(BaseModel):
    message: str
    code: str
    details: list[ErrorItem] | AmountDetails | None = None


class ErrorEnvelope(BaseModel):
    """`{success: false, error: {message, code, details?}, meta: {timestamp}}`."""

    model_config = ConfigDict(title="Error")

    success: Literal[False] = False
    error: ErrorBody
    meta: Meta


def ok(data: T) -> Envelope[T]:
    return Envelope[T](data=data)


def ok_list(data: list[T], *, page: int, limit: int, total: int) -> ListEnvelope[T]:
    return ListEnvelope[T](
        data=data,
        meta=ListMeta(
            page=page, limit=limit, total=total, totalPages=math.ceil(total / limit) if limit else 0
        ),
    )


def message(text: str) -> Envelope[MessageData]:
    """The seed's delete answer: `{"data": {"message": ...}}`."""
    return Envelope[MessageData](data=MessageData(message=text))


_DESCRIPTIONS = {
    400: "VALIDATION_ERROR: invalid body, path or query parameters",
    401: "UNAUTHORIZED: missing or invalid access token",
    403: "FORBIDDEN: the caller is not a commissioner",
    404: "NOT_FOUND: no such record for this commissioner",
    409: "CONFLICT: a business rule forbids it",
    422: "IDEMPOTENCY_KEY_REUSED: the Idempotency-Key was used with another body",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented with the error envelope.

    401 and 403 (authentication, role) and 400 (validation) are always included."""
    wanted = sorted({400, 401, 403, *statuses})
    return {
        s: {"model": ErrorEnvelope, "description": _DESCRIPTIONS.get(s, "Error")} for s in wanted
    }
