"""Query parameters of `GET /sessions`: the created_at date range (SPEC 8)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import Depends, Query

from servicekit.errors import Unprocessable

from .schemas import to_utc

_OFFSET_AFTER_SPACE = re.compile(r" (\d{2}:?\d{2})$")


@dataclass(frozen=True)
class Bound:
    at: datetime
    inclusive: bool


def _error(name: str, message: str) -> Unprocessable:
    return Unprocessable(
        message, details=[{"loc": ["query", name], "msg": message, "type": "value_error"}]
    )


def parse_bound(name: str, raw: str, *, upper: bool) -> Bound:
    """A date means that whole UTC day; a timestamp is taken as is (UTC when it has no offset).

    Both bounds are inclusive: an upper date-only bound becomes "before the next midnight".
    """
    value = raw.strip()
    # An unencoded `+00:00` in a query string arrives as a space.
    value = _OFFSET_AFTER_SPACE.sub(r"+\1", value)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        start = datetime.combine(day, time(0), tzinfo=UTC)
        if upper:
            return Bound(start + timedelta(days=1), inclusive=False)
        return Bound(start, inclusive=True)
    try:
        return Bound(to_utc(datetime.fromisoformat(value)), inclusive=True)
    except (ValueError, OverflowError) as exc:
        raise _error(name, f"{name} must be an ISO 8601 date or date-time") from exc


@dataclass(frozen=True)
class CreatedRange:
    start: Bound | None
    end: Bound | None


def created_range(
    start_date: Annotated[
        str | None,
        Query(description="ISO 8601 date or date-time: sessions created at or after it"),
    ] = None,
    end_date: Annotated[
        str | None,
        Query(description="ISO 8601 date or date-time: sessions created at or before it"),
    ] = None,
) -> CreatedRange:
    start = parse_bound("start_date", start_date, upper=False) if start_date else None
    end = parse_bound("end_date", end_date, upper=True) if end_date else None
    if start is not None and end is not None:
        empty = start.at > end.at or (start.at == end.at and not end.inclusive)
        if empty:
            raise _error("end_date", "end_date must not be before start_date")
    return CreatedRange(start, end)


CreatedRangeDep = Annotated[CreatedRange, Depends(created_range)]
