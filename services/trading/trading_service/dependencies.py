"""Request-scoped dependencies: the request's connection, its ORM session, its driver
connection for fast reads, and the authenticated principal.

A request checks out one pooled connection (`ConnectionDep`) and never a second: the ORM
session (`SessionDep`) is bound to it, and the hot reads use its asyncpg connection
(`ReadDep`) outside any transaction until the session begins one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from servicekit.db import driver
from servicekit.security import Principal


async def _connection(request: Request) -> AsyncIterator[AsyncConnection]:
    async with request.app.state.db.connection() as conn:
        yield conn


# scope="function": released (and the session committed) before the response is sent, so a
# failed commit is reported, and a streamed response holds no connection (see servicekit.db).
ConnectionDep = Annotated[AsyncConnection, Depends(_connection, scope="function")]


async def _session(request: Request, conn: ConnectionDep) -> AsyncIterator[AsyncSession]:
    async with request.app.state.db.session(bind=conn) as session:
        yield session


async def _read(conn: ConnectionDep) -> Any:
    return await driver(conn)


async def _principal(request: Request) -> Principal:
    principal: Principal = await request.app.state.authenticator(request)
    return principal


SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
# The request connection's asyncpg connection (`asyncpg.Connection`): one-statement reads.
ReadDep = Annotated[Any, Depends(_read)]
PrincipalDep = Annotated[Principal, Depends(_principal)]
