"""Sessions API (seed 000), the replay controls and the look-ahead-safe candles (SPEC 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator

from servicekit.openapi import IDEMPOTENCY_KEY
from servicekit.responses import JSONBytesResponse, conditional_json

from ..db import idempotency
from ..dependencies import PrincipalDep, ReadDep, SessionDep
from ..errors import responses
from . import repository as repo
from . import service, stream
from .dependencies import CreatedRangeDep, LockedSession, VisibleSession
from .lifecycle import Action
from .schemas import (
    SeekRequest,
    SessionCandles,
    SessionCreate,
    SessionList,
    SessionOut,
    SessionUpdate,
    StepRequest,
    to_utc,
)

router = APIRouter(tags=["sessions"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return responses(*codes)


_OWNED = _errors(401, 403, 404, 422)
_LIFECYCLE = _errors(400, 401, 403, 404, 422)


@router.get("/sessions", response_model=SessionList, responses=_errors(401, 422))
async def list_sessions(
    s: SessionDep,
    principal: PrincipalDep,
    created: CreatedRangeDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    sort: repo.SortField = "created_at",
    order: repo.SortOrder = "desc",
) -> SessionList:
    """List sessions (your own; an admin sees everyone's), filtered by created_at."""
    f = repo.ListFilter(
        user_id=None if principal.is_admin else principal.user_id,
        created_from=created.start.at if created.start else None,
        created_to=created.end.at if created.end else None,
        created_to_inclusive=created.end.inclusive if created.end else True,
    )
    return await service.list_sessions(
        s, principal, f, page=page, limit=limit, sort=sort, order=order
    )


@router.post(
    "/sessions",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=SessionOut,
    responses=_errors(400, 401, 409, 422),
)
async def create_session(
    request: Request, s: SessionDep, principal: PrincipalDep, body: SessionCreate
) -> Response:
    """Create a DRAFT session owned by the caller (honours Idempotency-Key)."""

    return await idempotency.respond(
        s, request, principal.user_id, lambda: service.create_session(s, principal, body)
    )


@router.get("/sessions/{session_id}", response_model=SessionOut, responses=_OWNED)
async def get_session(view: VisibleSession) -> Response:
    """Get one session, its clock read now."""
    return JSONBytesResponse(view.json())


@router.put("/sessions/{session_id}", response_model=SessionOut, responses=_LIFECYCLE)
async def update_session(body: SessionUpdate, s: SessionDep, view: LockedSession) -> SessionOut:
    """Change end_ts, speed, or session_status (by the lifecycle's transitions only)."""
    return await service.update_session(s, view, body)


@router.delete("/sessions/{session_id}", status_code=204, responses=_OWNED)
async def delete_session(s: SessionDep, view: LockedSession) -> Response:
    """Delete a session."""
    await service.delete_session(s, view)
    return Response(status_code=204)


def _lifecycle_route(action: Action, summary: str) -> None:
    async def endpoint(s: SessionDep, view: LockedSession) -> SessionOut:
        return await service.transition(s, view, action)

    endpoint.__name__ = f"{action.value}_session"
    endpoint.__doc__ = summary
    router.add_api_route(
        f"/sessions/{{session_id}}/{action.value}",
        endpoint,
        methods=["POST"],
        response_model=SessionOut,
        responses=_LIFECYCLE,
    )


_lifecycle_route(Action.START, "Start a DRAFT session: its clock starts on the first bar.")
_lifecycle_route(Action.PAUSE, "Pause a RUNNING session: its clock freezes.")
_lifecycle_route(Action.RESUME, "Resume a PAUSED session.")
_lifecycle_route(Action.STOP, "Stop a RUNNING or PAUSED session (it becomes COMPLETED).")
_lifecycle_route(Action.ARCHIVE, "Archive a COMPLETED session.")


@router.post("/sessions/{session_id}/step", response_model=SessionOut, responses=_LIFECYCLE)
async def step_session(
    s: SessionDep,
    view: LockedSession,
    body: Annotated[StepRequest | None, Body()] = None,
) -> SessionOut:
    """Reveal `bars` more bars at once (default 1), or `until: "fill"`; RUNNING or PAUSED."""
    return await service.step_session(s, view, body or StepRequest())


@router.post("/sessions/{session_id}/seek", response_model=SessionOut, responses=_LIFECYCLE)
async def seek_session(body: SeekRequest, s: SessionDep, view: LockedSession) -> SessionOut:
    """Reveal every bar up to `ts` (forward only), RUNNING or PAUSED."""
    return await service.seek_session(s, view, body)


@router.get(
    "/sessions/{session_id}/candles",
    response_model=SessionCandles,
    responses={**_OWNED, 304: {"description": "Not modified (If-None-Match)"}},
)
async def session_candles(
    request: Request,
    view: VisibleSession,
    read: ReadDep,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    before: Annotated[
        datetime | None,
        Query(description="Only bars opening before this instant (pages backwards)"),
        AfterValidator(lambda v: None if v is None else to_utc(v)),
    ] = None,
) -> Response:
    """Bars at the session's timeframe up to its current_ts, oldest first (no look-ahead)."""
    body, cache, etag = await service.session_candles(read, view, limit=limit, before=before)
    return conditional_json(request.headers, body, cache_control=cache, etag=etag)


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: state, bar (id: its open time), status, deleted, "
        "fill (id: <bar ts>#<fill id>), error. Resumes after `Last-Event-ID`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/sessions/{session_id}/stream",
    response_class=StreamingResponse,
    responses={**_STREAM_DOC, **_OWNED},
)
async def stream_session(request: Request, view: VisibleSession) -> StreamingResponse:
    """Server-Sent Events of the replay: one event per revealed bar and per status change."""
    first = view.out()
    last_seen = stream.parse_last_event_id(request.headers.get("last-event-id"))
    events = stream.events(request, request.app.state.db.sessionmaker, first, last_seen)
    return StreamingResponse(events, media_type="text/event-stream", headers=stream.HEADERS)
