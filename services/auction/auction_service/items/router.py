"""Auction items API (seed 003): /api/sessions/{sessionId}/items[/{itemId}]."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from servicekit.openapi import IDEMPOTENCY_KEY

from ..dependencies import CommissionerDep, SessionDep
from ..envelope import Envelope, ListEnvelope, error_responses, ok, ok_list
from ..idempotency import idempotent_create
from ..pagination import PageDep, SortOrder
from . import service
from .repository import ItemFilters
from .schemas import ItemCreate, ItemOut, ItemUpdate

router = APIRouter(prefix="/api/sessions/{sessionId}/items", tags=["auction items"])


@router.get("", response_model=ListEnvelope[ItemOut], responses=error_responses(404))
async def list_items(
    sessionId: str,
    commissioner: CommissionerDep,
    db: SessionDep,
    page: PageDep,
    farmer_id: uuid.UUID | None = None,
    product_id: uuid.UUID | None = None,
    buyer_id: uuid.UUID | None = None,
    paid: Annotated[
        bool | None, Query(description="true: billed items; false: not yet billed")
    ] = None,
    sort_by: Annotated[
        Literal["created_at", "final_price", "quantity"], Query(alias="sortBy")
    ] = "created_at",
    sort_order: Annotated[SortOrder, Query(alias="sortOrder")] = SortOrder.desc,
) -> ListEnvelope[ItemOut]:
    """List a session's auction items with filters and pagination."""
    filters = ItemFilters(
        farmer_id=farmer_id, product_id=product_id, buyer_id=buyer_id, billed=paid
    )
    data, total = await service.list_items(
        db,
        commissioner.user_id,
        sessionId,
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
    response_model=Envelope[ItemOut],
    responses=error_responses(404, 409, 422),
)
async def add_item(
    sessionId: str,
    body: ItemCreate,
    request: Request,
    commissioner: CommissionerDep,
    db: SessionDep,
) -> JSONResponse:
    """Add an auction item to an ACTIVE session."""

    async def handler() -> Envelope[ItemOut]:
        return ok(await service.add_item(db, commissioner.user_id, sessionId, body))

    return await idempotent_create(db, request, commissioner, handler)


@router.get("/{itemId}", response_model=Envelope[ItemOut], responses=error_responses(404))
async def get_item(
    sessionId: str,
    itemId: str,
    commissioner: CommissionerDep,
    db: SessionDep,
) -> Envelope[ItemOut]:
    """Get one auction item."""
    return ok(await service.get_item(db, commissioner.user_id, sessionId, itemId))


@router.put("/{itemId}", response_model=Envelope[ItemOut], responses=error_responses(404, 409))
async def update_item(
    sessionId: str,
    itemId: str,
    body: ItemUpdate,
    commissioner: CommissionerDep,
    db: SessionDep,
) -> Envelope[ItemOut]:
    """Update an unbilled item of an ACTIVE session (only the fields sent)."""
    return ok(await service.update_item(db, commissioner.user_id, sessionId, itemId, body))


@router.delete(
    "/{itemId}",
    status_code=204,
    response_class=Response,
    responses=error_responses(404, 409),
)
async def delete_item(
    sessionId: str,
    itemId: str,
    commissioner: CommissionerDep,
    db: SessionDep,
) -> Response:
    """Delete an unbilled item of an ACTIVE session: 204."""
    await service.delete_item(db, commissioner.user_id, sessionId, itemId)
    return Response(status_code=204)
