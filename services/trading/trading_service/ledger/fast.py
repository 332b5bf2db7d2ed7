"""Fast reads (`servicekit.fastpath`) of `GET /sessions/{id}/transactions` and
`/account`: the routes' answers for plain queries; anything else goes on to the routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from servicekit.db import Database
from servicekit.fastpath import int_param, query_params
from servicekit.responses import JSONBytesResponse

from ..sessions.dependencies import visible
from . import service
from .models import TransactionType
from .schemas import MAX_LIMIT, MAX_PAGE

TYPES = frozenset(t.value for t in TransactionType)


async def list_transactions(request: Request, params: dict[str, str]) -> Response | None:
    query = query_params(request)
    if query is None:
        return None
    kind = query.get("type")
    page = int_param(query, "page", 1, 1, MAX_PAGE)
    limit = int_param(query, "limit", 20, 1, MAX_LIMIT)
    if (kind is not None and kind not in TYPES) or page is None or limit is None:
        return None
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
        if view is None:
            return None
        body = await service.list_transactions(read, view, kind=kind, page=page, limit=limit)
    return JSONBytesResponse(body)


async def get_account(request: Request, params: dict[str, str]) -> Response | None:
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
        if view is None:
            return None
        body = await service.account(read, view)
    return JSONBytesResponse(body)
