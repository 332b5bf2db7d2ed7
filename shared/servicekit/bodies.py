"""Bounded request bodies: the work a request may cost is capped before validation starts.

A JSON body with 50,000 unknown keys used to cost a service 1.1-1.5 s of blocking pydantic
work and a 4.5 MB error list, freezing every other request of the process (issue 10,
defect 1). `BodyGuard` reads a write's body once (refusing it past `max_bytes`), parses it
with the same parser FastAPI uses (so exactly the same bodies are JSON) and walks the result
with early exits: a body that is too large, too deep, too wide or holds too many values is
refused in milliseconds, in the service's own error format, before pydantic sees it. Any
other body is handed on unchanged, malformed ones included: FastAPI answers those with the
service's malformed-JSON error, as before.

Routes with their own large-body handling (the candle import) are left alone by `exempt`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from .app import ErrorRenderer

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class BodyLimits:
    """What one request body may hold. The defaults are far above any real request of these
    APIs (the largest has a dozen fields) and far below what costs noticeable time."""

    max_bytes: int = 1 << 20  # the gateway's limit too (gateway/dynamic.yml body-limit)
    max_depth: int = 32
    max_keys: int = 256  # per object
    max_items: int = 1_000  # per array
    max_values: int = 10_000  # every value in the body, containers included


class BodyTooComplex(ValueError):
    def __init__(self, message: str, loc: list[str | int]) -> None:
        super().__init__(message)
        self.loc = loc


def check_shape(value: Any, limits: BodyLimits) -> None:
    """Raise `BodyTooComplex` at the first limit the parsed body breaks. Iterative, and it
    stops early: the work is bounded by the limits, not by the body."""
    stack: list[tuple[Any, int, list[str | int]]] = [(value, 1, ["body"])]
    seen = 0
    while stack:
        node, depth, loc = stack.pop()
        seen += 1
        if seen > limits.max_values:
            raise BodyTooComplex(f"more than {limits.max_values} values in the body", ["body"])
        if isinstance(node, dict):
            if depth > limits.max_depth:
                raise BodyTooComplex(f"nested deeper than {limits.max_depth} levels", loc)
            if len(node) > limits.max_keys:
                raise BodyTooComplex(f"more than {limits.max_keys} keys in one object", loc)
            stack.extend((v, depth + 1, [*loc, k]) for k, v in node.items())
        elif isinstance(node, list):
            if depth > limits.max_depth:
                raise BodyTooComplex(f"nested deeper than {limits.max_depth} levels", loc)
            if len(node) > limits.max_items:
                raise BodyTooComplex(f"more than {limits.max_items} items in one array", loc)
            stack.extend((v, depth + 1, [*loc, i]) for i, v in enumerate(node))


def is_json_content(content_type: str | None) -> bool:
    """What FastAPI parses as JSON: no Content-Type at all, application/json, application/*+json."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class BodyGuard:
    """Pure ASGI middleware, inside the request-id middleware (refusals carry X-Request-ID
    and are logged like any response)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        render: ErrorRenderer,
        limits: BodyLimits,
        validation_status: int,
        validation_code: str,
        exempt: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.app = app
        self.render = render
        self.limits = limits
        self.validation = (validation_status, validation_code)
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in BODY_METHODS
            or (self.exempt is not None and self.exempt(scope["method"], scope["path"]))
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        content_type = headers.get(b"content-type")
        if body and is_json_content(content_type.decode("latin-1") if content_type else None):
            refusal = self._refusal(body)
            if refusal is not None:
                await refusal(scope, receive, send)
                return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _refusal(self, body: bytes) -> Any:
        try:
            # Each ',' or ':' outside a string is followed by a value, so a body with more of
            # them than twice the value limit is refused without parsing (0.8 MB: 1 ms, not
            # 25). Only strings holding thousands of them could be refused wrongly, and no
            # field of these APIs holds more than a few thousand characters.
            if body.count(b",") + body.count(b":") > 2 * self.limits.max_values:
                raise BodyTooComplex(
                    f"more than {self.limits.max_values} values in the body", ["body"]
                )
            try:
                parsed = json.loads(body)
            except (ValueError, RecursionError):  # FastAPI answers: the malformed-JSON error
                return None
            check_shape(parsed, self.limits)
        except BodyTooComplex as exc:
            status, code = self.validation
            detail = [{"loc": exc.loc, "msg": f"Body too complex: {exc}", "type": "too_complex"}]
            return self.render(None, status, code, f"Request body too complex: {exc}", detail)
        return None

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Request body larger than {self.limits.max_bytes} bytes"
        response = self.render(
            None, 413, "PAYLOAD_TOO_LARGE", message, None, {"Connection": "close"}
        )
        await response(scope, receive, send)
