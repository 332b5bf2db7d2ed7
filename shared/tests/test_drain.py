"""Graceful drain (servicekit.drain): SIGTERM first makes the process draining, and only
`seconds` later reaches uvicorn; while draining, responses close their connections.
(tests/e2e/test_replicas.py drains real replicas behind Traefik under load.)"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import uvicorn
from fastapi import FastAPI

from servicekit.drain import Drain, DrainMiddleware


async def test_sigterm_drains_first_and_reaches_uvicorn_after_the_drain() -> None:
    server = uvicorn.Server(uvicorn.Config(FastAPI()))
    before = signal.signal(signal.SIGTERM, server.handle_exit)  # as uvicorn serves
    try:
        drain = Drain(0.5)
        assert drain.install()
        sent = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert drain.draining and not server.should_exit  # serving on, /readyz 503
        while not server.should_exit:
            await asyncio.sleep(0.02)
            assert time.monotonic() - sent < 5
        assert time.monotonic() - sent >= 0.5
        await drain.uninstall()
        assert signal.getsignal(signal.SIGTERM) == server.handle_exit
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_a_second_sigterm_stops_at_once() -> None:
    server = uvicorn.Server(uvicorn.Config(FastAPI()))
    before = signal.signal(signal.SIGTERM, server.handle_exit)
    try:
        drain = Drain(60)
        assert drain.install()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert drain.draining and not server.should_exit
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert server.should_exit
        await drain.uninstall()
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_outside_uvicorn_the_handler_is_left_alone() -> None:
    """An app run in-process (tests) keeps the test runner's own SIGTERM handling. The
    runner's handler is set here: a live uvicorn server of another test file (the trading
    suite's stream fixture) may hold SIGTERM in this process when this test runs."""

    def runners_handler(signum: int, frame: object) -> None:  # pragma: no cover - never sent
        raise AssertionError("not sent")

    before = signal.signal(signal.SIGTERM, runners_handler)
    try:
        assert not Drain(3).install()
        assert not Drain(0).install()
        assert signal.getsignal(signal.SIGTERM) is runners_handler
    finally:
        signal.signal(signal.SIGTERM, before)


async def test_responses_close_their_connection_only_while_draining() -> None:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    drain = Drain(3)
    app.add_middleware(DrainMiddleware, drain=drain)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        assert "connection" not in (await client.get("/ping")).headers
        drain.draining = True
        resp = await client.get("/ping")
        assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
        assert resp.headers["connection"] == "close"
