"""Request-scoped dependencies: the database session, a connection for fast reads, and the
authenticated principal.

A request never waits for a connection while holding one of the same pool (under load, a
pool of holders that each wait for a second one deadlocks): `SessionDep` checks out lazily,
on its first statement, and a dependency that reads on a connection of its own
(`VisibleSession`) releases it before the route runs. `ReadDep` is for routes that only
read: a `Database.reader()` asyncpg connection, outside any transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.openapi import requires_access_token
from servicekit.security import Principal


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session() as session:
        yield session


async def _read(request: Request) -> AsyncIterator[Any]:
    async with request.app.state.db.reader() as conn:
        yield conn


@requires_access_token
async def _principal(request: Request) -> Principal:
    principal: Principal = await request.app.state.authenticator(request)
    return principal


# scope="function": the session commits (and a connection goes back to the pool) before the
# response is sent, so a failed commit is reported and a streamed response holds nothing.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
ReadDep = Annotated[Any, Depends(_read, scope="function")]  # an asyncpg.Connection
PrincipalDep = Annotated[Principal, Depends(_principal)]
