"""Request and response bodies of the Sessions API, field for field as seed 000."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from servicekit.openapi import not_null

from ..candles.schemas import CandleOut
from ..timeframes import Timeframe
from .models import LEVERAGE_SCALE, MONEY_SCALE, SessionStatus, Speed, TradingSession

MAX_BIGINT = 2**63 - 1
MAX_POINTS = 1_000_000
MAX_BALANCE = Decimal("1000000000000")  # fits NUMERIC(18, 2) and a float's exact digits
MAX_COMMISSION = Decimal("1000000")
MAX_LEVERAGE = Decimal("10000")
MIN_YEAR, MAX_YEAR = 1900, 2999
MAX_STEP_BARS = 1_000_000


def iso_z(value: datetime) -> str:
    """ISO 8601 in UTC with `Z` (SPEC 6)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_utc(value: datetime) -> datetime:
    """Aware timestamps are converted to UTC; a timestamp without an offset is taken as UTC."""
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("timestamp out of range") from exc
    if not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise ValueError(f"timestamp must be between years {MIN_YEAR} and {MAX_YEAR}")
    return utc


def _timestamp_string(value: Any) -> Any:
    if not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 timestamp string")
    return value


def _json_number(value: Any) -> Any:
    # JSON true/false are not numbers, and numbers are not strings (seed: "number").
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


def _cents(value: Decimal) -> Decimal:
    """Money is rounded to cents, half up, when stored (SPEC 3)."""
    return value.quantize(Decimal(1).scaleb(-MONEY_SCALE), rounding=ROUND_HALF_UP)


def _positive_after_rounding(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be at least 0.01 once rounded to cents")
    return value


def _number_out(value: Decimal) -> int | float:
    """A JSON number: integral values as integers (leverage 100), others as floats."""
    return int(value) if value == value.to_integral_value() else float(value)


# Numbers only (a string is refused): the schema says so, for the JSON a client may send.
JsonNumber = BeforeValidator(_json_number, json_schema_input_type=float)
JsonInteger = BeforeValidator(_json_number, json_schema_input_type=int)

UtcTimestamp = Annotated[datetime, BeforeValidator(_timestamp_string), AfterValidator(to_utc)]
TimestampOut = Annotated[
    datetime,
    PlainSerializer(iso_z, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
FloatOut = Annotated[Decimal, PlainSerializer(float, return_type=float)]
NumberOut = Annotated[Decimal, PlainSerializer(_number_out, return_type=int | float)]

Points = Annotated[int, JsonInteger, Field(ge=0, le=MAX_POINTS)]


class SessionCreate(BaseModel):
    """`POST /sessions`: every field of the seed's request schema."""

    model_config = ConfigDict(extra="forbid")

    instrument_id: Annotated[int, JsonInteger, Field(ge=1, le=MAX_BIGINT)]
    timeframe: Timeframe
    speed: Speed
    start_ts: UtcTimestamp
    end_ts: UtcTimestamp | None = None
    initial_balance: Annotated[
        Decimal,
        JsonNumber,
        Field(gt=0, le=MAX_BALANCE),
        AfterValidator(_cents),
        AfterValidator(_positive_after_rounding),
    ]
    leverage: Annotated[
        Decimal,
        JsonNumber,
        Field(gt=0, le=MAX_LEVERAGE, decimal_places=LEVERAGE_SCALE),
    ]
    spread_pts: Points
    slippage_pts: Points
    commission_per_fill: Annotated[
        Decimal,
        JsonNumber,
        Field(ge=0, le=MAX_COMMISSION),
        AfterValidator(_cents),
    ]

    @model_validator(mode="after")
    def _end_after_start(self) -> SessionCreate:
        if self.end_ts is not None and self.end_ts <= self.start_ts:
            raise ValueError("end_ts must be after start_ts")
        return self


class SessionUpdate(BaseModel):
    """`PUT /sessions/{id}`: any of status (by the lifecycle table), speed, end_ts."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=not_null("session_status", "speed"))

    session_status: SessionStatus | None = None
    speed: Speed | None = None
    end_ts: UtcTimestamp | None = None

    @model_validator(mode="after")
    def _not_null(self) -> SessionUpdate:
        # end_ts may be cleared with null (replay to the data's end); the others may not.
        for name in ("session_status", "speed"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


def _step_alternatives(schema: dict[str, Any]) -> None:
    """Two alternative bodies, `{bars}` or `{until: "fill"}`, with no default in the schema
    (a generated client sends only what it was given; an omitted body or `bars` is 1)."""
    bars = schema.pop("properties")["bars"]
    bars.pop("default", None)
    schema.pop("additionalProperties", None)
    schema["oneOf"] = [
        {
            "title": "StepBars",
            "type": "object",
            "properties": {"bars": bars},
            "additionalProperties": False,
        },
        {
            "title": "StepUntilFill",
            "type": "object",
            "properties": {"until": {"type": "string", "enum": ["fill"]}},
            "required": ["until"],
            "additionalProperties": False,
        },
    ]


class StepRequest(BaseModel):
    """`POST /sessions/{id}/step`: reveal `bars` more bars at once (default 1), or
    `until: "fill"`: every bar up to the next fill or the end. One or the other, not both."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_step_alternatives)

    bars: Annotated[int, JsonInteger, Field(ge=1, le=MAX_STEP_BARS)] = 1
    until: Literal["fill"] | None = None

    @model_validator(mode="after")
    def _one_mode(self) -> StepRequest:
        if "until" in self.model_fields_set:
            if self.until is None:
                raise ValueError('until cannot be null (its only value is "fill")')
            if "bars" in self.model_fields_set:
                raise ValueError("give either bars or until, not both")
        return self


class SeekRequest(BaseModel):
    """`POST /sessions/{id}/seek`: reveal every bar up to `ts` (forward only)."""

    model_config = ConfigDict(extra="forbid")

    ts: UtcTimestamp


class SessionOut(BaseModel):
    """A session as seed 000 shows it, plus the replay clock's `current_ts`."""

    id: int
    user_id: int
    instrument_id: int
    timeframe: Timeframe
    session_status: SessionStatus
    speed: Speed
    start_ts: TimestampOut
    end_ts: TimestampOut | None
    initial_balance: FloatOut
    leverage: NumberOut
    spread_pts: int
    slippage_pts: int
    commission_per_fill: FloatOut
    created_at: TimestampOut
    updated_at: TimestampOut
    current_ts: TimestampOut | None

    @classmethod
    def build(
        cls,
        sess: TradingSession,
        *,
        status: str | None = None,
        current_ts: datetime | None = None,
    ) -> SessionOut:
        """From a row, optionally with the clock read at request time."""
        return cls(
            id=sess.id,
            user_id=sess.user_id,
            instrument_id=sess.instrument_id,
            timeframe=Timeframe(sess.timeframe),
            session_status=SessionStatus(status or sess.session_status),
            speed=Speed(sess.speed),
            start_ts=sess.start_ts,
            end_ts=sess.end_ts,
            initial_balance=sess.initial_balance,
            leverage=sess.leverage,
            spread_pts=sess.spread_pts,
            slippage_pts=sess.slippage_pts,
            commission_per_fill=sess.commission_per_fill,
            created_at=sess.created_at,
            updated_at=sess.updated_at,
            current_ts=current_ts or sess.current_ts,
        )


def session_json(
    values: Any, *, status: str | None = None, current_ts: datetime | None = None
) -> dict[str, Any]:
    """`SessionOut`'s JSON, built straight from a row's values (an asyncpg Record or any
    mapping of the columns) for `servicekit.responses`: the hot read path skips the model.
    Datetimes stay aware UTC datetimes (orjson writes them as `iso_z` does)."""
    leverage: Decimal = values["leverage"]
    return {
        "id": values["id"],
        "user_id": values["user_id"],
        "instrument_id": values["instrument_id"],
        "timeframe": values["timeframe"],
        "session_status": status or values["session_status"],
        "speed": values["speed"],
        "start_ts": values["start_ts"],
        "end_ts": values["end_ts"],
        "initial_balance": float(values["initial_balance"]),
        "leverage": _number_out(leverage),
        "spread_pts": values["spread_pts"],
        "slippage_pts": values["slippage_pts"],
        "commission_per_fill": float(values["commission_per_fill"]),
        "created_at": values["created_at"],
        "updated_at": values["updated_at"],
        "current_ts": current_ts or values["current_ts"],
    }


class SessionList(BaseModel):
    """`GET /sessions`: one page."""

    sessions: list[SessionOut]
    total: int
    page: int
    limit: int


class SessionCandles(BaseModel):
    """`GET /sessions/{id}/candles`: revealed bars, oldest first, none after `current_ts`."""

    session_id: int
    instrument_id: int
    timeframe: Timeframe
    current_ts: TimestampOut | None
    candles: list[CandleOut]
