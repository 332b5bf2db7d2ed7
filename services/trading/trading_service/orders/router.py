"""Pending orders API (SPEC 3, SPEC 8)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from servicekit.openapi import IDEMPOTENCY_KEY

from ..db import idempotency
from ..dependencies import PrincipalDep, SessionDep
from ..errors import responses
from ..sessions.dependencies import LockedSession, VisibleSession
from . import service
from .dependencies import LockedOrder, VisibleOrder
from .schemas import OrderCreate, OrderList, OrderOut, OrderStatusFilter

router = APIRouter(tags=["orders"])


@router.post(
    "/sessions/{session_id}/orders",
    status_code=201,
    openapi_extra=IDEMPOTENCY_KEY,
    response_model=OrderOut,
    responses=responses(400, 401, 403, 404, 409, 422),
)
async def place_order(
    request: Request,
    body: OrderCreate,
    db: SessionDep,
    principal: PrincipalDep,
    view: LockedSession,
) -> Response:
    """Place a LIMIT or STOP order, checked from the next base bar on (honours
    Idempotency-Key); RUNNING or PAUSED."""

    return await idempotency.respond(
        db, request, principal.user_id, lambda: service.place_order(db, view, body)
    )


@router.get(
    "/sessions/{session_id}/orders",
    response_model=OrderList,
    responses=responses(401, 403, 404, 422),
)
async def list_orders(
    db: SessionDep,
    view: VisibleSession,
    status: OrderStatusFilter | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> OrderList:
    """A session's orders, oldest first."""
    return await service.list_orders(db, view, status=status, page=page, limit=limit)


_ONE = responses(400, 401, 403, 404, 422, not_found="Order not found")


@router.get("/orders/{order_id}", response_model=OrderOut, responses=_ONE)
async def get_order(found: VisibleOrder) -> OrderOut:
    """One order, as of every bar revealed now."""
    return service.out(found.order)


@router.delete("/orders/{order_id}", response_model=OrderOut, responses=_ONE)
async def cancel_order(db: SessionDep, found: LockedOrder) -> OrderOut:
    """Cancel a PENDING order: 200 with the order, now CANCELLED."""
    return await service.cancel_order(db, found.session, found.order)
