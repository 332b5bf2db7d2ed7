"""Async engine, sessions and the per-service declarative base."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# Deterministic constraint names, so Alembic migrations can drop and rename them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_metadata() -> MetaData:
    """Each service owns one MetaData, so autogenerate never sees another service's tables."""
    return MetaData(naming_convention=NAMING_CONVENTION)


PING_IF_IDLE_SECONDS = 1.0


def install_idle_ping(engine: AsyncEngine, idle_seconds: float = PING_IF_IDLE_SECONDS) -> None:
    """Pessimistic disconnect handling at a fraction of `pool_pre_ping`'s cost.

    SQLAlchemy's asyncpg pre-ping is BEGIN; SELECT; ROLLBACK on every checkout (three round
    trips, for pgbouncer's transaction mode; we talk to PostgreSQL directly). Here only a
    connection idle for over `idle_seconds` is pinged, with one round trip; a busy pool pings
    nothing. A connection killed by a database restart is still replaced before use; one that
    dies within the second after its last use fails that one request (503) and the pool then
    replaces every connection older than the failure.
    """
    from sqlalchemy.util import await_

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            await_(dbapi_connection.driver_connection.fetchrow(";"))
        except Exception as exc:
            raise sa_exc.DisconnectionError() from exc  # the pool retries with a new one


async def driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under an ORM connection (a session's, in its transaction), for
    the statements `Database.reader()` runs elsewhere."""
    raw = await conn.get_raw_connection()
    return raw.driver_connection


def _read_connection_class() -> Any:
    import asyncpg

    class ReadConnection(asyncpg.Connection):
        """A `Database.reader()` connection: its users only read, one statement at a time,
        so they leave no session state (no SET, LISTEN, cursor, advisory lock) and the
        pool's reset on release (`RESET ALL; UNLISTEN *; ...`, a round trip per request)
        has nothing to undo; a transaction an error left open is still rolled back."""

        async def reset(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg signature)
            if self.is_in_transaction():
                await self.execute("ROLLBACK", timeout=timeout)

    return ReadConnection


class Database:
    """Owns the engine of one service; `session()` is the request-scoped unit of work."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 0,
        read_pool_size: int = 10,
        echo: bool = False,
        **engine_kw: Any,
    ) -> None:
        self.url = url
        self.read_pool_size = read_pool_size
        self._read_pool: Any = None
        self._read_pool_lock = asyncio.Lock()
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_pre_ping=False,  # replaced by the cheaper idle ping below
            pool_recycle=1800,
            pool_timeout=10,
            echo=echo,
            connect_args={
                "timeout": 5,
                "command_timeout": 60,
                "server_settings": {"timezone": "UTC"},
            },
            **engine_kw,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        install_idle_ping(self.engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The unit of work: services flush, this commits on success or rolls back. Use it
        with `async with` (in a dependency too): its exit must run when the request ends,
        not when a suspended generator is collected."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[Any]:
        """An asyncpg connection for hot reads, outside any transaction (autocommit).

        A read that one statement answers then costs one round trip instead of BEGIN, the
        statement and COMMIT, and none of the ORM's checkout, greenlet and statement-building
        work (together about half the CPU of a small read). It comes from a second, small
        pool of plain asyncpg connections (`read_pool_size`). Never write through it, and
        never hold it while waiting for a `session()`: release it first.
        """
        pool = self._read_pool or await self._open_read_pool()
        async with pool.acquire() as conn:
            yield conn

    async def _open_read_pool(self) -> Any:
        async with self._read_pool_lock:
            if self._read_pool is None:
                import asyncpg

                dsn = self.engine.url.set(drivername="postgresql")
                self._read_pool = await asyncpg.create_pool(
                    dsn.render_as_string(hide_password=False),
                    min_size=1,
                    max_size=self.read_pool_size,
                    max_inactive_connection_lifetime=300,
                    timeout=5,
                    command_timeout=60,
                    # DateStyle pinned: reads may format timestamps as text in SQL.
                    server_settings={"timezone": "UTC", "DateStyle": "ISO, YMD"},
                    connection_class=_read_connection_class(),
                )
        return self._read_pool

    async def dispose(self) -> None:
        if self._read_pool is not None:
            pool, self._read_pool = self._read_pool, None
            await pool.close()
        await self.engine.dispose()


# Dependencies that wrap `session()` use scope="function": the commit then runs before the
# response is sent, so a failed commit is reported to the client instead of acknowledged.
SESSION_SCOPE = "function"
