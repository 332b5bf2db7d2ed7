"""Candle import and raw reads (SPEC sections 3 and 8): admins only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ..dependencies import SessionDep
from ..instruments.dependencies import AdminDep
from ..instruments.router import InstrumentId, errors
from ..timeframes import Timeframe
from . import service
from .config import import_max_bytes
from .exceptions import PayloadTooLarge
from .importer import HEADER
from .schemas import CandleList, CandleOut, ImportResult

router = APIRouter(tags=["candles"])

# ISO 8601 (UTC when no offset is given) or Unix seconds, as the importer reads it.
_IMPORT_TS = {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}]}
_IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "Bars at the instrument's base timeframe (bid prices), all or nothing.",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": ",".join(HEADER)
                + "\n2024-01-02T00:00:00Z,1.10450,1.10472,1.10441,1.10466,118\n",
            },
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "title": "CandleBarIn",
                        "type": "object",
                        "required": ["timestamp", "open", "high", "low", "close", "volume"],
                        "properties": {
                            "timestamp": _IMPORT_TS,
                            "ts": {**_IMPORT_TS, "description": "Accepted instead of timestamp"},
                            "open": {"type": "number"},
                            "high": {"type": "number"},
                            "low": {"type": "number"},
                            "close": {"type": "number"},
                            "volume": {"type": "number"},
                        },
                    },
                }
            },
        },
    }
}


async def _read_body(request: Request, max_bytes: int) -> bytearray:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"Request body exceeds {max_bytes} bytes")
    # One growing buffer, not a list of chunks joined at the end: half the peak memory.
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > max_bytes:
            raise PayloadTooLarge(f"Request body exceeds {max_bytes} bytes")
        body += chunk
    return body


@router.post(
    "/instruments/{instrument_id}/candles",
    response_model=ImportResult,
    responses={
        **errors(400, 401, 403, 404, 409, 415, 422),
        413: {"description": "Body larger than 256 MiB (this route's limit, not 1 MiB)"},
    },
    openapi_extra=_IMPORT_BODY,
)
async def import_candles(
    s: SessionDep,
    _: AdminDep,
    instrument_id: InstrumentId,
    request: Request,
    max_bytes: Annotated[int, Depends(import_max_bytes)],
) -> ImportResult:
    """Import bars from CSV or JSON (admin): 422 naming the bad rows, else an upsert."""
    body = await _read_body(request, max_bytes)
    return await service.import_candles(s, instrument_id, body, request.headers.get("content-type"))


@router.get(
    "/instruments/{instrument_id}/candles",
    response_model=CandleList,
    responses=errors(401, 403, 404, 422),
)
async def raw_candles(
    s: SessionDep,
    _: AdminDep,
    instrument_id: InstrumentId,
    timeframe: Annotated[
        Timeframe | None, Query(description="Default: the instrument's base timeframe")
    ] = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="Open time at or after (UTC)")
    ] = None,
    to: Annotated[datetime | None, Query(description="Open time at or before (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> CandleList:
    """Stored candles outside any session (admin), oldest first."""
    instrument, tf, bars = await service.raw_candles(
        s, instrument_id, timeframe=timeframe, from_ts=from_, to_ts=to, limit=limit
    )
    return CandleList(
        instrument_id=instrument.id, timeframe=tf, candles=[CandleOut.of(b) for b in bars]
    )
