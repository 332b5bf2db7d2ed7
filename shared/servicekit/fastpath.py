"""Fast reads: the hottest GET routes answered before FastAPI's routing and dependency solving.

A profile of a one-row read (`GET /sessions/{id}`) spent more CPU in the framework (matching
the path against every route, solving dependencies, validating the return value) than in
authenticating, reading and encoding put together. A `FastRead` is a plain async function
that does the same work the route's dependencies and body do, for the happy path only:

- it returns a `Response` when it can answer exactly as the FastAPI route would;
- it returns None, or raises a `ServiceError` (401, 403, 404, ...), for anything else (a
  query parameter it does not know, a value it would have to validate, a session whose clock
  must first be settled under its row lock): the request then goes on to the FastAPI route,
  which does it all again and answers, errors included, in the service's own format.

So the FastAPI route stays the one definition of the contract (and of the OpenAPI
document); a fast read only short-cuts the answers it is sure of, and each has a test that
compares its answers with the route's (`app.state.fast_reads = False` turns them all off).
It never writes. It sits inside the request-id, access-log and metrics middleware and the
unhandled-error handler, so its answers are logged, counted (under the route's template)
and turned into 503 on a lost database like any other.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.routing import APIRoute
from prometheus_client import Counter
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import ServiceError

FAST_READS = Counter(
    "http_fast_reads_total",
    "GET requests a fast read took: answered, or handed on to the route",
    ["route", "outcome"],
)

FastHandler = Callable[[Request, dict[str, str]], Awaitable[Response | None]]

_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class FastRead:
    """`GET path` (a route template such as `/sessions/{session_id}`, each parameter one or
    more digits) answered by `handler(request, path_params)` when it can."""

    path: str
    handler: FastHandler

    def pattern(self) -> re.Pattern[str]:
        return re.compile(_PARAM.sub(lambda m: rf"(?P<{m.group(1)}>[0-9]{{1,18}})", self.path))


class _FastReads:
    def __init__(self, app: ASGIApp, fastapi_app: FastAPI, reads: Sequence[FastRead]) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.table: list[tuple[re.Pattern[str], FastHandler, Any, Any, Any]] = []
        for read in reads:
            route = next(
                (
                    r
                    for r in _api_routes(fastapi_app.routes)
                    if r.path == read.path and "GET" in (r.methods or ())
                ),
                None,
            )
            if route is None:
                raise ValueError(f"fast read {read.path}: no GET route with that path")
            answered = FAST_READS.labels(read.path, "answered")
            handed_on = FAST_READS.labels(read.path, "handed_on")
            self.table.append((read.pattern(), read.handler, route, answered, handed_on))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path: str = scope["path"]
            for pattern, handler, route, answered, handed_on in self.table:
                match = pattern.fullmatch(path)
                if match is None:
                    continue
                if getattr(self.fastapi_app.state, "fast_reads", True):
                    response = await _answer(handler, Request(scope, receive), match)
                    if response is not None:
                        answered.inc()
                        scope["route"] = route  # the access log's and metrics' label
                        await response(scope, receive, send)
                        return
                    handed_on.inc()
                break
        await self.app(scope, receive, send)


def _api_routes(routes: Sequence[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, through included routers (FastAPI keeps them nested)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
            continue
        nested = getattr(getattr(r, "original_router", r), "routes", None)
        if nested:
            yield from _api_routes(nested)


async def _answer(handler: FastHandler, request: Request, match: re.Match[str]) -> Response | None:
    try:
        return await handler(request, match.groupdict())
    except ServiceError:
        return None  # the route raises it again and renders it in the service's format


_DIGITS = re.compile(r"[1-9][0-9]{0,17}")


def query_params(request: Request) -> dict[str, str] | None:
    """The query's parameters, or None when a name repeats (the route's parser decides)."""
    pairs = parse_qsl(request.scope["query_string"].decode("latin-1"), keep_blank_values=True)
    params = dict(pairs)
    return params if len(params) == len(pairs) else None


def int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int | None:
    """`name` as the route would read it when it is plainly an integer within [low, high]
    (no sign, space or leading zero); None (hand the request on) otherwise."""
    raw = params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def install_fast_reads(app: FastAPI, reads: Sequence[FastRead]) -> None:
    """Put the fast reads innermost of the app's middleware (inside request id, logging,
    metrics and the unhandled-error handler); call before the app serves."""
    app.user_middleware.append(Middleware(_FastReads, fastapi_app=app, reads=reads))
