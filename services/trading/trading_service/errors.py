"""Trading errors render as FastAPI does: `{"detail": ...}`; validation is 422. The
`responses=` table every router documents its error statuses with."""

from __future__ import annotations

from typing import Any

from servicekit.app import detail_renderer as render_error
from servicekit.openapi import ErrorOut

__all__ = ["ErrorOut", "render_error", "responses"]


_TEXT = {
    400: "Bad request or invalid state transition",
    401: "Not authenticated",
    403: "Not the owner or admin",
    404: "Not found",
    409: "A request with this Idempotency-Key is still in progress",
    422: "Validation error",
}


def responses(*codes: int, not_found: str = "Session not found") -> dict[int | str, dict[str, Any]]:
    """The error statuses of a route, each with the `{"detail": ...}` body."""
    text = {**_TEXT, 404: not_found}
    return {c: {"model": ErrorOut, "description": text[c]} for c in codes}
