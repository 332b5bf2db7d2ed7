"""The ledger and the account (SPEC 3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from servicekit.responses import JSONBytesResponse

from ..dependencies import ReadDep
from ..errors import responses
from ..sessions.dependencies import VisibleSession
from . import service
from .models import TransactionType
from .schemas import MAX_LIMIT, MAX_PAGE, AccountOut, TransactionList

router = APIRouter(tags=["ledger"])


@router.get(
    "/sessions/{session_id}/transactions",
    response_model=TransactionList,
    responses=responses(401, 403, 404, 422),
)
async def list_transactions(
    view: VisibleSession,
    read: ReadDep,
    type: TransactionType | None = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 20,
) -> Response:
    """The session's ledger, oldest first: DEPOSIT, then COMMISSION and PROFIT per fill."""
    kind = type.value if type is not None else None
    body = await service.list_transactions(read, view, kind=kind, page=page, limit=limit)
    return JSONBytesResponse(body)


@router.get(
    "/sessions/{session_id}/account",
    response_model=AccountOut,
    responses=responses(401, 403, 404, 422),
)
async def get_account(view: VisibleSession, read: ReadDep) -> Response:
    """Balance, equity, used and free margin, margin level, marked at the current bar."""
    return JSONBytesResponse(await service.account(read, view))
