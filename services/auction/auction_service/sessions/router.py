"""Sessions API (seed 003): list, create, detail with items, bills and summary, update,
delete."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import JSONResponse

from servicekit.openapi import DATE_OR_DATE_TIME, IDEMPOTENCY_KEY

from ..dependencies import CommissionerDep, SessionDep
from ..envelope import Envelope, ListEnvelope, MessageData, error_responses, message, ok, ok_list
from ..errors import field_error
from ..idempotency import idempotent_create
from ..pagination import PageDep, SortOrder
from . import service
from .repository import SessionFilters
from .schemas import SessionCreate, SessionDetail, SessionOut, SessionStatus, SessionUpdate

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


def _bounds(start: str | None, end: str | None) -> SessionFilters:
    """`startDate`/`endDate`: ISO dates or datetimes, both inclusive; a bare date means
    that whole UTC day."""
    f: dict[str, Any] = {}
    for name, raw in (("startDate", start), ("endDate", end)):
        if raw is None:
            continue
        try:
            if len(raw) == 10:
                day = datetime.combine(date.fromisoformat(raw), datetime.min.time())
                value = service.as_utc(day)
                if name == "endDate":
                    # A bare end date includes that whole day.
                    f["date_before"] = value + timedelta(days=1)
                else:
                    f["date_from"] = value
                continue
            value = service.as_utc(datetime.fromisoformat(raw))
        except ValueError as exc:
            raise field_error(
                name, "Expected an ISO 8601 date or datetime in 1900..2999", "query"
            ) from exc
        f["date_to" if name == "endDate" else "date_from"] = value
    return SessionFilters(**f)


@router.get("", response_model=ListEnvelope[SessionOut], responses=error_responses())
async def list_sessions(
    commissioner: CommissionerDep,
    db: SessionDep,
    page: PageDep,
    status: SessionStatus | None = None,
    start_date: Annotated[
        str | None,
        Query(alias="startDate", max_length=40, examples=["2025-08-01"]),
        DATE_OR_DATE_TIME,
    ] = None,
    end_date: Annotated[
        str | None,
        Query(alias="endDate", max_length=40, examples=["2025-08-31"]),
        DATE_OR_DATE_TIME,
    ] = None,
    sort_by: Annotated[Literal["date", "created_at", "updated_at"], Query(alias="sortBy")] = "date",
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = SortOrder.desc,
) -> ListEnvelope[SessionOut]:
    """List the commissioner's auction sessions, with item and bill counts."""
    filters = replace(_bounds(start_date, end_date), status=status)
    data, total = await service.list_sessions(
        db,
        commissioner.user_id,
        filters,
        sort_by=sort_by,
        descending=sort_order is SortOrder.desc,
        offset=page.offset,
        limit=page.limit,
    )
    return ok_list(data, page=page.page, limit=page.limit, total=total)


@router.post(
    "",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=Envelope[SessionOut],
    responses=error_responses(409, 422),
)
async def create_session(
    request: Request,
    commissioner: CommissionerDep,
    db: SessionDep,
    body: Annotated[SessionCreate | None, Body()] = None,
) -> JSONResponse:
    """Create an ACTIVE session (date defaults to now); one ACTIVE session per UTC date."""

    async def handler() -> Envelope[SessionOut]:
        return ok(await service.create_session(db, commissioner.user_id, body or SessionCreate()))

    return await idempotent_create(db, request, commissioner, handler)


@router.get("/{id}", response_model=Envelope[SessionDetail], responses=error_responses(404))
async def get_session(
    id: str, commissioner: CommissionerDep, db: SessionDep
) -> Envelope[SessionDetail]:
    """Session detail with its auction items, bills, counts and summary."""
    return ok(await service.session_detail(db, commissioner.user_id, id))


@router.put("/{id}", response_model=Envelope[SessionOut], responses=error_responses(404, 409))
async def update_session(
    id: str, body: SessionUpdate, commissioner: CommissionerDep, db: SessionDep
) -> Envelope[SessionOut]:
    """Change a session's status (complete or reopen) or date."""
    return ok(await service.update_session(db, commissioner.user_id, id, body))


@router.delete("/{id}", response_model=Envelope[MessageData], responses=error_responses(404, 409))
async def delete_session(
    id: str, commissioner: CommissionerDep, db: SessionDep
) -> Envelope[MessageData]:
    """Delete an empty session (no auction items, no bills)."""
    return message(await service.delete_session(db, commissioner.user_id, id))
