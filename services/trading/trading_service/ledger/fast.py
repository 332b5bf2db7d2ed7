"""Fast reads (`servicekit.fastpath`) of `GET /sessions/{id}/transactions` and
`/account`: the routes' answers for plain queries; anything else goes on to the routes."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from servicekit.responses import JSONBytesResponse

from ..sessions.dependencies import SessionView
from ..sessions.fast import answer, page_query
from . import service
from .models import TransactionType
from .schemas import MAX_LIMIT, MAX_PAGE

TYPES = frozenset(t.value for t in TransactionType)


async def list_transactions(request: Request, params: dict[str, str]) -> Response | None:
    query = page_query(request, "type", TYPES, MAX_PAGE, MAX_LIMIT)
    if query is None:
        return None
    kind, page, limit = query

    async def respond(read: Any, view: SessionView) -> Response:
        body = await service.list_transactions(read, view, kind=kind, page=page, limit=limit)
        return JSONBytesResponse(body)

    return await answer(request, params, respond)


async def get_account(request: Request, params: dict[str, str]) -> Response | None:
    async def respond(read: Any, view: SessionView) -> Response:
        return JSONBytesResponse(await service.account(read, view))

    return await answer(request, params, respond)
