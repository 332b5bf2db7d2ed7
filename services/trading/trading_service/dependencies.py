"""Request-scoped dependencies: the database session and the authenticated principal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.security import Principal


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async for session in request.app.state.db.session():
        yield session


async def _principal(request: Request) -> Principal:
    principal: Principal = await request.app.state.authenticator(request)
    return principal


# scope="function": the commit runs before the response is sent (see servicekit.db).
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
PrincipalDep = Annotated[Principal, Depends(_principal)]
