"""Dependencies of the sessions routes: the created_at date range of `GET /sessions` (SPEC 8),
and the one way every `/sessions/{id}/...` route gets its session (`VisibleSession` for
reads, `LockedSession` for writes): the access rule and the clock's settling in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import Database, driver
from servicekit.errors import BadRequest, Forbidden, NotFound, Unprocessable
from servicekit.openapi import DATE_OR_DATE_TIME, requires_access_token
from servicekit.security import Principal

from ..dependencies import PrincipalDep, SessionDep
from ..replay import clock
from . import repository as repo
from .lifecycle import STARTED
from .models import TradingSession
from .schemas import SessionOut, session_json, to_utc

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
            try:
                return Bound(start + timedelta(days=1), inclusive=False)
            except OverflowError as exc:  # 9999-12-31 has no next midnight (issue 10, defect 2)
                raise _error(name, f"{name} is out of range: the last day is 9999-12-30") from exc
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
        DATE_OR_DATE_TIME,
    ] = None,
    end_date: Annotated[
        str | None,
        Query(description="ISO 8601 date or date-time: sessions created at or before it"),
        DATE_OR_DATE_TIME,
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


# --- one session per `/sessions/{id}/...` route: the access rule and the clock's settling ---


class SessionView:
    """A session a caller may read, its clock read now with every revealed fill processed:
    the values of the one-statement read (`values`), or a row that had to be settled."""

    __slots__ = ("_row", "_values", "reading")

    def __init__(
        self,
        reading: clock.ClockReading,
        *,
        values: Mapping[str, Any] | None = None,
        row: TradingSession | None = None,
    ) -> None:
        self.reading = reading
        self._values = values
        self._row = row

    @property
    def row(self) -> TradingSession:
        """The session as a (detached, read-only) model object."""
        if self._row is None:
            assert self._values is not None
            self._row = TradingSession(**{c: self._values[c] for c in repo.COLUMNS})
        return self._row

    @property
    def values(self) -> Mapping[str, Any]:
        """The row's columns by name (as stored: the clock's reading is `reading`)."""
        if self._values is None:
            assert self._row is not None
            self._values = {c: getattr(self._row, c) for c in repo.COLUMNS}
        return self._values

    @property
    def status(self) -> str:
        return self.reading.status

    @property
    def current_ts(self) -> datetime | None:
        return self.reading.current_ts

    def out(self) -> SessionOut:
        return SessionOut.build(self.row, status=self.status, current_ts=self.current_ts)

    def json(self) -> dict[str, Any]:
        """`out()`'s JSON without the model (`servicekit.responses`)."""
        return session_json(self.values, status=self.status, current_ts=self.current_ts)


@dataclass(frozen=True)
class LockedSessionView:
    """A session a caller may change, locked (`FOR UPDATE`) for the request's transaction,
    its clock materialized (and every revealed bar processed) at `now`."""

    row: TradingSession
    now: datetime

    @property
    def status(self) -> str:
        return self.row.session_status

    def out(self) -> SessionOut:
        return SessionOut.build(self.row)

    def require_started(self, doing: str) -> None:
        """400 unless RUNNING or PAUSED (wrong-state writes, SPEC 8)."""
        if self.row.session_status not in STARTED:
            raise BadRequest(
                f"Cannot {doing}: the session is {self.row.session_status} (RUNNING or PAUSED only)"
            )


def authorize(principal: Principal, user_id: int) -> None:
    """Owner or admin (seed 000): anyone else is 403."""
    if not principal.is_admin and user_id != principal.user_id:
        raise Forbidden("Not the owner of this session")


async def visible(read: Any, principal: Principal, session_id: int) -> SessionView | None:
    """The session and its clock in one statement on an asyncpg connection (`read`, outside a
    transaction: one round trip), or None when that clock reached the session's end or a bar
    on which something may fill: the caller then `settled()` it in a transaction."""
    values = await repo.read_clocked(read, session_id)
    if values is None:
        raise NotFound("Session not found")
    authorize(principal, values["user_id"])
    reading = clock.reading_of(
        values["session_status"],
        values["current_ts"],
        values["due"],
        values["found"],
        values["last_ts"],
        values["more"],
    )
    if clock.needs_settling(values["next_event_ts"], values["timeframe"], reading):
        return None
    return SessionView(reading, values=values)


async def settled(db: AsyncSession, session_id: int) -> SessionView:
    """The slow path of `visible`: `clock.settle` locks the row and lets the engine process
    the bars revealed (the access rule was checked by `visible`; ownership never changes)."""
    trading_session = await repo.get(db, session_id)
    if trading_session is None:  # deleted since
        raise NotFound("Session not found")
    reading = (await clock.settle(db, [trading_session]))[0]
    return SessionView(reading, row=trading_session)


async def locked(db: AsyncSession, principal: Principal, session_id: int) -> LockedSessionView:
    trading_session = await repo.get(db, session_id, for_update=True)
    if trading_session is None:
        raise NotFound("Session not found")
    authorize(principal, trading_session.user_id)
    now = await clock.db_now(db)  # read after the lock: waiting never makes time run backwards
    await clock.materialize(db, trading_session, now)
    return LockedSessionView(trading_session, now)


async def visible_owner(
    db: AsyncSession, principal: Principal, session_id: int | None, missing: str
) -> SessionView:
    """The settled session of a position, order or report (`session_id` None: it does not
    exist, 404 `missing`): the child follows its session's access rule. Read on `db`'s
    connection, which the child's lookup already holds."""
    if session_id is None:
        raise NotFound(missing)
    read = await driver(await db.connection())
    return await visible(read, principal, session_id) or await settled(db, session_id)


async def locked_owner(
    db: AsyncSession, principal: Principal, session_id: int | None, missing: str
) -> LockedSessionView:
    """The locked session of a position or order, as `visible_owner`."""
    if session_id is None:
        raise NotFound(missing)
    return await locked(db, principal, session_id)


@requires_access_token
async def _visible_session(request: Request, session_id: int) -> SessionView:
    # One dependency without sub-dependencies (each level costs), holding its read connection
    # only while it reads: a route's session, checked out later, never waits while holding it.
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, session_id)
    if view is None:
        async with database.session() as db:
            view = await settled(db, session_id)
    return view


async def _locked_session(
    session_id: int, db: SessionDep, principal: PrincipalDep
) -> LockedSessionView:
    return await locked(db, principal, session_id)


VisibleSession = Annotated[SessionView, Depends(_visible_session)]
LockedSession = Annotated[LockedSessionView, Depends(_locked_session)]
