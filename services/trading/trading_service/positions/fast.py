"""Fast read (`servicekit.fastpath`) of `GET /sessions/{id}/positions`: the route's answer
for plain queries; anything else goes on to the route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from servicekit.db import Database
from servicekit.fastpath import int_param, query_params
from servicekit.responses import JSONBytesResponse

from ..ledger.schemas import MAX_LIMIT, MAX_PAGE
from ..sessions.dependencies import visible
from . import service

STATUSES = frozenset({"OPEN", "CLOSED"})


async def list_positions(request: Request, params: dict[str, str]) -> Response | None:
    query = query_params(request)
    if query is None:
        return None
    status = query.get("status")
    page = int_param(query, "page", 1, 1, MAX_PAGE)
    limit = int_param(query, "limit", 20, 1, MAX_LIMIT)
    if (status is not None and status not in STATUSES) or page is None or limit is None:
        return None
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
        if view is None:
            return None
        body = await service.list_positions(read, view, status=status, page=page, limit=limit)
    return JSONBytesResponse(body)
