"""Fast reads (`servicekit.fastpath`) of the `/sessions/{id}/...` routes: the same answers
as the routes for the requests they are sure of; anything else (an error, a clock to settle,
a query parameter they would have to validate) goes on to the route.

`answer` is their `VisibleSession`: the access rule and the clock in one statement on a
reader connection, which the answer's own statement then reuses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from servicekit.db import Database
from servicekit.fastpath import int_param, query_params
from servicekit.responses import JSONBytesResponse, conditional_json

from . import service
from .dependencies import SessionView, visible

MAX_CANDLES = 5000  # the route's `limit` bound


async def answer(
    request: Request,
    params: dict[str, str],
    respond: Callable[[Any, SessionView], Awaitable[Response]],
) -> Response | None:
    """`respond(read, view)` for the visible, settled session of the path; None (the route
    answers) when its clock must first be settled."""
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
        if view is None:  # settling writes: the route does it
            return None
        return await respond(read, view)


def page_query(
    request: Request, name: str, allowed: Collection[str], max_page: int, max_limit: int
) -> tuple[str | None, int, int] | None:
    """A list's `name` filter (one of `allowed`), `page` (default 1) and `limit` (default
    20), when plainly valid; None (the route reads them) otherwise."""
    query = query_params(request)
    if query is None:
        return None
    value = query.get(name)
    page = int_param(query, "page", 1, 1, max_page)
    limit = int_param(query, "limit", 20, 1, max_limit)
    if (value is not None and value not in allowed) or page is None or limit is None:
        return None
    return value, page, limit


async def get_session(request: Request, params: dict[str, str]) -> Response | None:
    async def respond(_read: Any, view: SessionView) -> Response:
        return JSONBytesResponse(view.json())

    return await answer(request, params, respond)


async def session_candles(request: Request, params: dict[str, str]) -> Response | None:
    query = query_params(request)
    if query is None or not set(query) <= {"limit"}:
        return None  # `before` (a timestamp to validate) and the odd query: the route
    limit = int_param(query, "limit", 500, 1, MAX_CANDLES)
    if limit is None:
        return None

    async def respond(read: Any, view: SessionView) -> Response:
        body, cache, etag = await service.session_candles(read, view, limit=limit, before=None)
        return conditional_json(request.headers, body, cache_control=cache, etag=etag)

    return await answer(request, params, respond)
