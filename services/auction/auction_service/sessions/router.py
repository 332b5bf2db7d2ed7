"""Placeholder until the Sessions API lands: proves routing and authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ..dependencies import PrincipalDep
from ..errors import now_iso

router = APIRouter(tags=["sessions"])


@router.get("/api/sessions")
async def list_sessions(principal: PrincipalDep) -> dict[str, Any]:
    """List auction sessions."""
    return {
        "success": True,
        "data": [],
        "meta": {"page": 1, "limit": 10, "total": 0, "totalPages": 0, "timestamp": now_iso()},
    }
