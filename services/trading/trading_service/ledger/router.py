"""The ledger and the account (SPEC 3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..dependencies import SessionDep
from ..errors import responses
from ..sessions.dependencies import VisibleSession
from . import service
from .models import TransactionType
from .schemas import AccountOut, TransactionList

router = APIRouter(tags=["ledger"])


@router.get(
    "/sessions/{session_id}/transactions",
    response_model=TransactionList,
    responses=responses(401, 403, 404, 422),
)
async def list_transactions(
    db: SessionDep,
    view: VisibleSession,
    type: TransactionType | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TransactionList:
    """The session's ledger, oldest first: DEPOSIT, then COMMISSION and PROFIT per fill."""
    kind = type.value if type is not None else None
    return await service.list_transactions(db, view, kind=kind, page=page, limit=limit)


@router.get(
    "/sessions/{session_id}/account",
    response_model=AccountOut,
    responses=responses(401, 403, 404, 422),
)
async def get_account(db: SessionDep, view: VisibleSession) -> AccountOut:
    """Balance, equity, used and free margin, margin level, marked at the current bar."""
    return await service.account(db, view)
