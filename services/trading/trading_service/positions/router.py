"""Positions API (SPEC 3): market orders on the current bar, levels, closes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from servicekit.openapi import IDEMPOTENCY_KEY
from servicekit.responses import JSONBytesResponse

from ..db import idempotency
from ..dependencies import PrincipalDep, ReadDep, SessionDep
from ..errors import responses
from ..ledger.schemas import MAX_LIMIT, MAX_PAGE
from ..sessions.dependencies import LockedSession, VisibleSession
from . import service
from .dependencies import LockedPosition, VisiblePosition
from .schemas import (
    PositionClose,
    PositionCreate,
    PositionList,
    PositionOut,
    PositionStatusFilter,
    PositionUpdate,
)

router = APIRouter(tags=["positions"])

_ONE = responses(400, 401, 403, 404, 422, not_found="Position not found")


@router.post(
    "/sessions/{session_id}/positions",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=PositionOut,
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def open_position(
    request: Request,
    body: PositionCreate,
    db: SessionDep,
    principal: PrincipalDep,
    view: LockedSession,
) -> Response:
    """Open a position at the current bar's close: `volume`, or `risk_pct` with a
    `stop_loss` (honours Idempotency-Key); RUNNING or PAUSED."""

    return await idempotency.respond(
        db, request, principal.user_id, lambda: service.open_position(db, view, body)
    )


@router.get(
    "/sessions/{session_id}/positions",
    response_model=PositionList,
    responses=responses(401, 403, 404, 422),
)
async def list_positions(
    view: VisibleSession,
    read: ReadDep,
    status: PositionStatusFilter | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> Response:
    """A session's positions, oldest first; OPEN ones marked at the current bar."""
    body = await service.list_positions(read, view, status=status, page=page, limit=limit)
    return JSONBytesResponse(body)


@router.get("/positions/{position_id}", response_model=PositionOut, responses=_ONE)
async def get_position(db: SessionDep, found: VisiblePosition) -> PositionOut:
    """One position, as of every bar revealed now."""
    return await service.get_position(db, found.session, found.position)


@router.patch("/positions/{position_id}", response_model=PositionOut, responses=_ONE)
async def update_position(
    body: PositionUpdate, db: SessionDep, found: LockedPosition
) -> PositionOut:
    """Set or remove (`null`) an open position's stop_loss and take_profit."""
    return await service.update_levels(db, found.session, found.position, body)


@router.post("/positions/{position_id}/close", response_model=PositionOut, responses=_ONE)
async def close_position(
    db: SessionDep,
    found: LockedPosition,
    body: Annotated[PositionClose | None, Body()] = None,
) -> PositionOut:
    """Close an open position at the current bar's close, all of it or `volume` of it."""
    return await service.close_position(db, found.session, found.position, body or PositionClose())
