"""Fast read (`servicekit.fastpath`) of `GET /sessions/{id}/positions`: the route's answer
for plain queries; anything else goes on to the route."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from servicekit.responses import JSONBytesResponse

from ..ledger.schemas import MAX_LIMIT, MAX_PAGE
from ..sessions.dependencies import SessionView
from ..sessions.fast import answer, page_query
from . import service

STATUSES = frozenset({"OPEN", "CLOSED"})


async def list_positions(request: Request, params: dict[str, str]) -> Response | None:
    query = page_query(request, "status", STATUSES, MAX_PAGE, MAX_LIMIT)
    if query is None:
        return None
    status, page, limit = query

    async def respond(read: Any, view: SessionView) -> Response:
        body = await service.list_positions(read, view, status=status, page=page, limit=limit)
        return JSONBytesResponse(body)

    return await answer(request, params, respond)
