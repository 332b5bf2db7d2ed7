"""Fast reads (`servicekit.fastpath`) of the sessions routes: the same answers as the routes
for the requests they are sure of; anything else (an error, a clock to settle, a query
parameter they would have to validate) goes on to the route."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from servicekit.db import Database
from servicekit.fastpath import int_param, query_params
from servicekit.responses import JSONBytesResponse, conditional_json

from . import service
from .dependencies import visible

MAX_CANDLES = 5000  # the route's `limit` bound


async def get_session(request: Request, params: dict[str, str]) -> Response | None:
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
    if view is None:  # settling writes: the route does it
        return None
    return JSONBytesResponse(view.json())


async def session_candles(request: Request, params: dict[str, str]) -> Response | None:
    query = query_params(request)
    if query is None or not set(query) <= {"limit"}:
        return None  # `before` (a timestamp to validate) and the odd query: the route
    limit = int_param(query, "limit", 500, 1, MAX_CANDLES)
    if limit is None:
        return None
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
        if view is None:
            return None
        body, cache, etag = await service.session_candles(read, view, limit=limit, before=None)
    return conditional_json(request.headers, body, cache_control=cache, etag=etag)
