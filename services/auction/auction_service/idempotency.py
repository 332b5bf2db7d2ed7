"""`Idempotency-Key` on every creating POST of this service (SPEC section 6)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse

from servicekit.idempotency import Idempotency
from servicekit.security import Principal

from .db import idempotency_keys

_idempotency = Idempotency(idempotency_keys)


async def idempotent_create(
    session: AsyncSession,
    request: Request,
    principal: Principal,
    handler: Callable[[], Awaitable[Any]],
    *,
    status_code: int = 201,
) -> JSONResponse:
    """Run `handler` (which returns the envelope) once per (user, key); a retry with the same
    key and body replays the first response, status and body alike."""
    return await _idempotency.respond(
        session, request, principal.user_id, handler, status_code=status_code
    )
