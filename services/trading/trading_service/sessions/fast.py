"""Fast reads (`servicekit.fastpath`) of the sessions routes: `GET /sessions/{id}` answered
from its one statement, when the session is visible and its clock needs no settling."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from servicekit.db import Database
from servicekit.responses import JSONBytesResponse

from .dependencies import visible


async def get_session(request: Request, params: dict[str, str]) -> Response | None:
    principal = await request.app.state.authenticator(request)
    database: Database = request.app.state.db
    async with database.reader() as read:
        view = await visible(read, principal, int(params["session_id"]))
    if view is None:  # settling writes: the route does it
        return None
    return JSONBytesResponse(view.json())
