"""The benchmark's baselines: a minimal ASGI app serving, with raw asyncpg and no framework,
no ORM, no auth, logging or metrics:

- `GET /sessions/{id}`: one `SELECT * FROM trading_sessions WHERE id = $1`;
- `GET /sessions/{id}/positions`, `/account`, `/transactions`: the very statements the
  service runs for them (the session with its clock, then the page or the account's
  inputs, imported from its repositories), rows encoded as they come.

`make bench` divides the service by these. Run as `uvicorn devstack.bench_raw:app` with
BENCH_RAW_DSN set.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
from typing import Any

import asyncpg

from trading_service.ledger import repository as ledger_repo
from trading_service.positions import repository as positions_repo
from trading_service.sessions import repository as sessions_repo

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


async def _child(con: Any, session_id: int, what: str) -> Any:
    s = await con.fetchrow(sessions_repo._READ_CLOCKED, session_id)
    if s is None:
        return None
    if what == "positions":
        rows = await con.fetch(
            positions_repo._PAGE_MARKED,
            session_id,
            None,
            0,
            20,
            s["instrument_id"],
            s["timeframe"],
            s["current_ts"],
        )
        return {"positions": [dict(r) for r in rows], "total": rows[0]["total"]}
    if what == "transactions":
        rows = await con.fetch(ledger_repo._PAGE, session_id, None, 0, 20)
        return {"transactions": [dict(r) for r in rows], "total": rows[0]["total"]}
    if what == "account":
        rows = await con.fetch(
            ledger_repo._ACCOUNT, session_id, s["instrument_id"], s["timeframe"], s["current_ts"]
        )
        return {"balance": s["balance"], "rows": [dict(r) for r in rows]}
    return None


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
    parts = path.strip("/").split("/")
    if len(parts) not in (2, 3) or parts[0] != "sessions" or not parts[1].isdigit():
        await _send_json(send, 404, {"detail": "Not Found"})
        return
    session_id = int(parts[1])
    assert _pool is not None
    if len(parts) == 2:
        row = await _pool.fetchrow(QUERY, session_id)
        body = None if row is None else dict(row)
    else:
        async with _pool.acquire() as con:
            body = await _child(con, session_id, parts[2])
    if body is None:
        await _send_json(send, 404, {"detail": "Session not found"})
        return
    await _send_json(send, 200, body)
