"""Request-scoped dependencies: the database session and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.errors import Forbidden
from servicekit.openapi import requires_access_token
from servicekit.security import Principal

COMMISSIONER_ROLE = "commissioner"


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


@requires_access_token
async def _principal(request: Request) -> Principal:
    principal: Principal = await request.app.state.authenticator(request)
    return principal


async def _commissioner(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
    """Every /api route: a signed-in user (401 otherwise) with the commissioner role (403)."""
    if not principal.has_role(COMMISSIONER_ROLE):
        raise Forbidden("Commissioner role required")
    return principal


# scope="function": the commit runs before the response is sent (see servicekit.db).
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(_principal)]
# The commissioner's id is `principal.user_id`; every query is scoped by it.
CommissionerDep = Annotated[Principal, Depends(_commissioner)]
