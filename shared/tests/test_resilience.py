"""SPEC section 6: a database outage is a 503 in the service's own format, and the service
recovers by itself when the database returns; request ids and log redaction."""

import asyncio
import json
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from devstack.postgres import EmbeddedPostgres
from servicekit.app import detail_renderer, install_error_handlers
from servicekit.db import Database
from servicekit.logging import JsonFormatter, redact, request_id_var
from servicekit.observability import RequestContextMiddleware


def make_app(db: Database) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app, detail_renderer)
    app.add_middleware(RequestContextMiddleware, service="test")

    async def session() -> AsyncIterator[AsyncSession]:
        async with db.session() as s:
            yield s

    @app.get("/now")
    async def now(s: Annotated[AsyncSession, Depends(session, scope="function")]) -> dict[str, Any]:
        return {"one": (await s.execute(text("SELECT 1"))).scalar_one()}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/rid")
    async def rid(request: Request) -> dict[str, Any]:
        return {"rid": request_id_var.get()}

    return app


@pytest.fixture(scope="module")
def own_postgres() -> Any:
    data_dir = Path(tempfile.mkdtemp(prefix="pg-resilience-"))
    pg = EmbeddedPostgres(data_dir, fast_unsafe=True)
    pg.start()
    try:
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_database_outage_is_503_and_recovers_without_restart(own_postgres: Any) -> None:
    db = Database(
        own_postgres.dsn().replace("postgresql://", "postgresql+asyncpg://"),
        pool_size=2,
        max_overflow=0,
    )
    transport = httpx.ASGITransport(app=make_app(db), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/now")).json() == {"one": 1}
        own_postgres.stop()
        down = await client.get("/now")
        assert down.status_code == 503
        assert down.json() == {"detail": "Service temporarily unavailable"}
        assert down.headers["retry-after"] == "1"
        assert "x-request-id" in down.headers
        own_postgres.start()  # same port, same data
        back = await client.get("/now")
        assert back.status_code == 200, back.text
    await db.dispose()


async def test_unreachable_database_at_start_is_503() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/none", pool_size=1, max_overflow=0)
    transport = httpx.ASGITransport(app=make_app(db), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/now")).status_code == 503
    await db.dispose()


async def test_unhandled_bug_is_500_json_with_request_id() -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    transport = httpx.ASGITransport(app=make_app(db), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        resp = await client.get("/boom", headers={"X-Request-ID": "req-500"})
    assert resp.status_code == 500
    assert resp.json() == {"detail": "Internal server error"}
    assert resp.headers["x-request-id"] == "req-500"
    await db.dispose()


@pytest.mark.parametrize("sent", ["a" * 200, "bad id with spaces", "x\u00e9"])
async def test_insane_request_ids_are_replaced(sent: str) -> None:
    db = Database("postgresql+asyncpg://postgres@127.0.0.1:9/none")
    transport = httpx.ASGITransport(app=make_app(db))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        resp = await client.get("/rid", headers={"X-Request-ID": sent.encode("utf-8")})
    assert resp.headers["x-request-id"] != sent
    assert resp.json()["rid"] == resp.headers["x-request-id"]
    await db.dispose()


def test_log_lines_mask_tokens_and_passwords() -> None:
    token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    formatter = JsonFormatter("test")
    record = logging.makeLogRecord(
        {
            "msg": "login with Bearer abc.def and %s",
            "args": (token,),
            "levelname": "INFO",
            "password": "hunter22",
            "payload": {"refresh_token": "r-123", "email": "a@b.c"},
        }
    )
    line = formatter.format(record)
    assert token not in line and "hunter22" not in line and "r-123" not in line
    entry = json.loads(line)
    assert entry["payload"]["email"] == "a@b.c"
    assert redact({"Authorization": "Bearer x"}) == {"Authorization": "[REDACTED]"}


def test_openapi_is_true_to_the_validation_status() -> None:
    """Where validation errors are 400 (auction), no route advertises FastAPI's default 422;
    one-line endpoint docstrings become the summary."""
    from pydantic import BaseModel

    from servicekit.openapi import install_openapi

    class Body(BaseModel):
        n: int

    app = FastAPI()

    @app.post("/things")
    async def create_thing(body: Body) -> dict[str, int]:
        """Create a thing."""
        return {"n": body.n}

    install_openapi(app, 400)
    op = app.openapi()["paths"]["/things"]["post"]
    assert "422" not in op["responses"]
    assert op["responses"]["400"]["description"] == "Validation error"
    assert op["summary"] == "Create a thing"


async def test_connections_killed_while_idle_are_replaced_before_use(own_postgres: Any) -> None:
    """The idle ping (one round trip, only after a second idle) finds pooled connections the
    server terminated (restart, failover, pg_terminate_backend) and replaces them: the next
    request succeeds instead of failing on a dead connection."""
    import asyncpg

    db = Database(
        own_postgres.dsn().replace("postgresql://", "postgresql+asyncpg://"),
        pool_size=3,
        max_overflow=0,
    )
    transport = httpx.ASGITransport(app=make_app(db), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for _ in range(3):
            assert (await client.get("/now")).status_code == 200
        admin = await asyncpg.connect(own_postgres.dsn())
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        await admin.close()
        assert killed >= 1
        await asyncio.sleep(1.2)  # idle for over a second: the next checkout pings
        statuses = [(await client.get("/now")).status_code for _ in range(5)]
        assert statuses == [200] * 5
    await db.dispose()


async def test_reader_connections_killed_while_idle_are_replaced(own_postgres: Any) -> None:
    """`Database.reader()` (the hot reads' asyncpg pool): connections the server terminated
    while idle are replaced at the next acquire, and a read outside any transaction leaves
    nothing behind (no transaction open when the connection goes back)."""
    import asyncpg

    db = Database(
        own_postgres.dsn().replace("postgresql://", "postgresql+asyncpg://"),
        pool_size=1,
        max_overflow=0,
        read_pool_size=2,
    )
    for _ in range(3):
        async with db.reader() as read:
            assert await read.fetchval("SELECT 1") == 1
            assert not read.is_in_transaction()
    admin = await asyncpg.connect(own_postgres.dsn())
    killed = await admin.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    await admin.close()
    assert killed >= 1
    await asyncio.sleep(0.5)  # the terminated sockets' close reaches the event loop
    for _ in range(4):
        async with db.reader() as read:
            assert await read.fetchval("SELECT 2") == 2
    await db.dispose()
