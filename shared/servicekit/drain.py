"""Graceful drain: a replica told to stop (SIGTERM) leaves the load balancer before it stops.

On SIGTERM, `/readyz` answers 503 (`draining`) at once, so the gateway's health check (every
second) and a Kubernetes readiness probe take the replica out of rotation. For `seconds` it
keeps serving whatever still reaches it, requests in flight and new ones alike, each answered
with `Connection: close` so that no idle keep-alive connection is left for the gateway to reuse
at the moment the process closes it; only then does uvicorn get the signal, and its own graceful
shutdown lets the requests still running finish. A second SIGTERM stops at once; SIGINT
(Ctrl-C) is uvicorn's own, without a drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.server import Server as UvicornServer

log = logging.getLogger(__name__)

# Three of the gateway's 1 s health-check intervals: the replica is out well before it stops.
DEFAULT_DRAIN_SECONDS = 3.0

SignalHandler = Callable[[int, FrameType | None], Any]


class Drain:
    """The drain state of one process; `install()` at startup, `uninstall()` at shutdown."""

    def __init__(self, seconds: float = DEFAULT_DRAIN_SECONDS) -> None:
        self.seconds = seconds
        self.draining = False
        self.started_at: float | None = None
        self._uvicorn_handler: SignalHandler | None = None
        self._task: asyncio.Task[None] | None = None

    def install(self) -> bool:
        """Put the drain in front of uvicorn's SIGTERM handler. Only under uvicorn's server
        (its handler holds SIGTERM while it serves): an app run in-process by tests, or a
        drain of 0 seconds, keeps whatever handler there is."""
        if not threading_main() or self.seconds <= 0:
            return False
        current = signal.getsignal(signal.SIGTERM)
        if not isinstance(getattr(current, "__self__", None), UvicornServer):
            return False
        assert callable(current)
        self._uvicorn_handler = current
        loop = asyncio.get_running_loop()

        def on_term(signum: int, frame: FrameType | None) -> None:
            if self.draining:  # asked twice: stop now
                current(signum, frame)
                return
            self.draining = True
            self.started_at = time.monotonic()
            loop.call_soon_threadsafe(self._start)

        signal.signal(signal.SIGTERM, on_term)
        return True

    def _start(self) -> None:
        log.info("draining: /readyz is 503, stopping in %.1fs", self.seconds)
        self._task = asyncio.get_running_loop().create_task(self._stop_later())

    async def _stop_later(self) -> None:
        await asyncio.sleep(self.seconds)
        log.info("drained: shutting down")
        if self._uvicorn_handler is not None:
            self._uvicorn_handler(signal.SIGTERM, None)

    async def uninstall(self) -> None:
        """Give SIGTERM back to uvicorn (it restores its predecessor after shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._uvicorn_handler is not None and threading_main():
            signal.signal(signal.SIGTERM, self._uvicorn_handler)
            self._uvicorn_handler = None


def threading_main() -> bool:
    return threading.current_thread() is threading.main_thread()


class DrainMiddleware:
    """While draining, every response closes its connection (`Connection: close`)."""

    def __init__(self, app: ASGIApp, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.drain.draining:
            await self.app(scope, receive, send)
            return

        async def send_closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_closing)
