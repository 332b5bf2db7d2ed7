"""Instruments API (SPEC section 3): anyone signed in reads, admins write."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from servicekit.openapi import IDEMPOTENCY_KEY

from ..db import idempotency
from ..dependencies import PrincipalDep, SessionDep
from ..errors import ErrorOut
from . import service
from .dependencies import AdminDep
from .schemas import InstrumentCreate, InstrumentList, InstrumentOut, InstrumentUpdate

router = APIRouter(tags=["instruments"])

InstrumentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


_TEXT = {
    400: "Malformed JSON body",
    401: "Not authenticated",
    403: "Admin role required",
    404: "Instrument not found",
    409: "Symbol taken, instrument in use, or Idempotency-Key still in progress",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Validation error",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": ErrorOut, "description": _TEXT[c]} for c in codes}


@router.get("/instruments", response_model=InstrumentList, responses=errors(401, 422))
async def list_instruments(
    s: SessionDep,
    _: PrincipalDep,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> InstrumentList:
    """List instruments, oldest first."""
    rows, total = await service.list_page(s, page=page, limit=limit)
    return InstrumentList(
        instruments=[InstrumentOut.model_validate(r) for r in rows],
        total=total,
        page=page,
        limit=limit,
    )


@router.get(
    "/instruments/{instrument_id}", response_model=InstrumentOut, responses=errors(401, 404, 422)
)
async def get_instrument(
    s: SessionDep, _: PrincipalDep, instrument_id: InstrumentId
) -> InstrumentOut:
    """Get an instrument."""
    return InstrumentOut.model_validate(await service.get(s, instrument_id))


@router.post(
    "/instruments",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=InstrumentOut,
    responses=errors(400, 401, 403, 409, 422),
)
async def create_instrument(
    s: SessionDep, admin: AdminDep, body: InstrumentCreate, request: Request
) -> Any:
    """Create an instrument (admin)."""

    async def handler() -> InstrumentOut:
        return InstrumentOut.model_validate(await service.create(s, body))

    return await idempotency.respond(s, request, admin.user_id, handler)


@router.put(
    "/instruments/{instrument_id}",
    response_model=InstrumentOut,
    responses=errors(400, 401, 403, 404, 409, 422),
)
async def update_instrument(
    s: SessionDep, _: AdminDep, instrument_id: InstrumentId, body: InstrumentUpdate
) -> InstrumentOut:
    """Update an instrument's fields (admin); fields left out keep their value."""
    return InstrumentOut.model_validate(await service.update(s, instrument_id, body))


@router.delete(
    "/instruments/{instrument_id}",
    status_code=204,
    response_class=Response,
    responses=errors(401, 403, 404, 409, 422),
)
async def delete_instrument(s: SessionDep, _: AdminDep, instrument_id: InstrumentId) -> Response:
    """Delete an instrument and its candles (admin); 409 while a session uses it."""
    await service.delete(s, instrument_id)
    return Response(status_code=204)
