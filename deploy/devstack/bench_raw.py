"""The benchmark's baseline: a minimal ASGI handler serving `GET /sessions/{id}` with one raw
asyncpg query, no framework, no ORM, no auth. `make bench` divides the real service by it.

Run as `uvicorn devstack.bench_raw:app` with BENCH_RAW_DSN set.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
from typing import Any

import asyncpg

_pool: asyncpg.Pool | None = None

QUERY = "SELECT * FROM trading_sessions WHERE id = $1"


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, decimal.Decimal):
        return float(value)
    return str(value)


async def _send_json(send: Any, status: int, body: Any) -> None:
    payload = json.dumps(body, default=_default).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _pool
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _pool = await asyncpg.create_pool(
                    os.environ["BENCH_RAW_DSN"], min_size=2, max_size=10
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if _pool is not None:
                    await _pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    if not path.startswith("/sessions/"):
        await _send_json(send, 404, {"detail": "Not Found"})
        return
    try:
        session_id = int(path.removeprefix("/sessions/"))
    except ValueError:
        await _send_json(send, 404, {"detail": "Not Found"})
        return
    assert _pool is not None
    row = await _pool.fetchrow(QUERY, session_id)
    if row is None:
        await _send_json(send, 404, {"detail": "Session not found"})
        return
    await _send_json(send, 200, dict(row))
