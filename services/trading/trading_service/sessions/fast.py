"""Fast reads (`servicekit.fastpath`) of the sessions routes: the same answers as the routes
for the requests they are sure of; anything else (an error, a clock to settle, a query
parameter they would have to validate) goes on to the route."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from servicekit.db import Database
from servicekit.responses import JSONBytesResponse, conditional_json

from . import service
from .dependencies import visible

_LIMIT = re.compile(r"[1-9][0-9]{0,3}")
MAX_CANDLES = 5000  # the route's `limit` bound


def _query(request: Request) -> dict[str, str] | None:
    """The query's parameters, or None when a name repeats (the route's parser decides)."""
    pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


async def get_session(request: Request, params: dict[str, str]) -> Response | None:
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
    if view is None:  # settling writes: the route does it
        return None
    return JSONBytesResponse(view.json())


async def session_candles(request: Request, params: dict[str, str]) -> Response | None:
    query = _query(request)
    if query is None or not set(query) <= {"limit"}:
        return None  # `before` (a timestamp to validate) and the odd query: the route
    raw_limit = query.get("limit", "500")
    if not _LIMIT.fullmatch(raw_limit) or int(raw_limit) > MAX_CANDLES:
        return None
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
        if view is None:
            return None
        body, cache = await service.session_candles(read, view, limit=int(raw_limit), before=None)
    return conditional_json(request.headers, body, cache_control=cache)
