"""`Idempotency-Key` for creating POSTs (SPEC section 6).

The key is claimed with a transaction-scoped advisory lock, and the stored response is written
in the same transaction as the business rows: either both commit or neither does. A retry with
the same key and body replays the first response; a different body is 422; a retry while the
first request still runs is 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import Conflict, Unprocessable

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def idempotency_table(metadata: MetaData) -> Table:
    """The table each service creates in its own migration history."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("user_id", BigInteger, primary_key=True),
        Column("key", String(MAX_KEY_LENGTH), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("body", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class IdempotencyKeyReused(Unprocessable):
    code = "IDEMPOTENCY_KEY_REUSED"
    message = "Idempotency-Key was already used with a different request"


class IdempotencyInProgress(Conflict):
    code = "IDEMPOTENCY_IN_PROGRESS"
    message = "A request with this Idempotency-Key is still in progress"


@dataclass
class Replay:
    status_code: int
    body: Any


def _lock_id(user_id: int, key: str) -> int:
    digest = hashlib.sha256(f"idem:{user_id}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def fingerprint(request: Request) -> str:
    raw = await request.body()
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    h = hashlib.sha256()
    h.update(request.method.encode() + b" " + request.url.path.encode() + b"\n" + canonical)
    return h.hexdigest()


class Idempotency:
    """Runs a creating handler at most once per (user, key)."""

    def __init__(self, table: Table) -> None:
        self.table = table

    async def run(
        self,
        session: AsyncSession,
        request: Request,
        user_id: int,
        handler: Callable[[], Awaitable[Any]],
        *,
        status_code: int = 201,
    ) -> Replay:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return Replay(status_code, await handler())
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise Unprocessable(f"{IDEMPOTENCY_HEADER} must be 1..{MAX_KEY_LENGTH} characters")
        fp = await fingerprint(request)
        locked = (
            await session.execute(
                text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": _lock_id(user_id, key)}
            )
        ).scalar_one()
        if not locked:
            raise IdempotencyInProgress()
        row = (
            await session.execute(
                select(self.table.c.fingerprint, self.table.c.status_code, self.table.c.body).where(
                    self.table.c.user_id == user_id, self.table.c.key == key
                )
            )
        ).first()
        if row is not None:
            if row.fingerprint != fp:
                raise IdempotencyKeyReused()
            return Replay(row.status_code, json.loads(row.body))
        result = await handler()
        body = jsonable_encoder(result)
        await session.execute(
            insert(self.table).values(
                user_id=user_id,
                key=key,
                fingerprint=fp,
                status_code=status_code,
                body=json.dumps(body).encode(),
            )
        )
        return Replay(status_code, body)

    async def respond(
        self,
        session: AsyncSession,
        request: Request,
        user_id: int,
        handler: Callable[[], Awaitable[Any]],
        *,
        status_code: int = 201,
    ) -> JSONResponse:
        """`run`, answered as JSON: the handler's result (a model or plain data) the first
        time, the stored response, status and body alike, on a retry."""
        replay = await self.run(session, request, user_id, handler, status_code=status_code)
        # Without a key the body is still the handler's result; a replay is already JSON.
        return JSONResponse(jsonable_encoder(replay.body), status_code=replay.status_code)
