"""Paths with encoded separators are refused by the service itself, in its own format.

Traefik refuses `%2F`, `%5C`, `%00`, `%3B`, `%25`, `%3F` and `%23` in a path by default, with
its own empty 400 (no JSON, no X-Request-ID, no security headers: issue 10, defect 3). The
gateway now lets them through, and each service answers them: no resource of these APIs has
such a character in its path (ids are integers or UUIDs), and a service that decoded `%2F`
into `/` would route the request to a resource the client did not name (a split view between
gateway and service). So the answer is a 404 in the service's error format, before routing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

if TYPE_CHECKING:
    from .app import ErrorRenderer

# The encoded characters Traefik's entrypoint refuses by default (its encodedCharacters list).
AMBIGUOUS = re.compile(rb"%(2f|5c|00|3b|25|3f|23)", re.IGNORECASE)
MESSAGE = (
    "No resource at this path: an encoded '/', '\\', NUL, ';', '%', '?' or '#' is never part of one"
)


def has_ambiguous_encoding(raw_path: bytes) -> bool:
    return b"%" in raw_path and AMBIGUOUS.search(raw_path) is not None


class EncodedPathGuard:
    """Pure ASGI middleware, inside the request-id middleware."""

    def __init__(self, app: ASGIApp, *, render: ErrorRenderer) -> None:
        self.app = app
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and has_ambiguous_encoding(scope.get("raw_path") or b""):
            response = self.render(None, 404, "NOT_FOUND", MESSAGE)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
